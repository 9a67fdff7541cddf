package sqsstub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Start serves a new Server on addr ("127.0.0.1:0" picks a free port) and
// returns its endpoint URL, for AWS_ENDPOINT_URL_SQS or an SDK client's
// BaseEndpoint, and a stop function. Stopping ends pending long polls at
// once (they answer with no messages) and waits for the other requests.
func Start(addr string, opts Options) (endpoint string, stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sqsstub: listen: %w", err)
	}
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           New(opts),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	stop = func() error {
		cancel()
		ctx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelShutdown()
		if err := srv.Shutdown(ctx); err != nil {
			return fmt.Errorf("sqsstub: shutdown: %w", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("sqsstub: serve: %w", err)
		}
		return nil
	}
	return "http://" + ln.Addr().String(), stop, nil
}
