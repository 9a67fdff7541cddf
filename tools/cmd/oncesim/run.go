package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// shutdownTimeout bounds the graceful shutdown after SIGINT/SIGTERM.
const shutdownTimeout = 5 * time.Second

// run parses args, serves the simulator until ctx ends and shuts it down gracefully.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	// Configuration.
	cfg, err := parseConfig(args, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.Default()
	log.Info("starting", slog.Any("config", cfg))

	// Simulator.
	srv, err := newSimulator(cfg, log)
	if err != nil {
		return err
	}

	// Listener and server.
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "oncesim listening on http://%s%s\n", dialAddr(ln.Addr()), srv.BasePath())
	return serve(ctx, ln, srv.Handler(), log)
}

// newSimulator loads or generates the inventory and builds the server.
func newSimulator(cfg config, log *slog.Logger) (*oncesim.Server, error) {
	sims, err := loadSIMs(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := oncesim.New(oncesim.Options{
		User:      cfg.user,
		Password:  cfg.password,
		BasePath:  cfg.basePath,
		TokenTTL:  cfg.tokenTTL,
		RateLimit: cfg.rateLimit,
		RateBurst: cfg.rateBurst,
		SIMs:      sims,
		Logger:    log,
		Stream:    streamConfig(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	log.Info("inventory ready", slog.Int("sims", len(sims)))
	return srv, nil
}

// streamConfig is the Data Streamer's configuration from the flags.
func streamConfig(cfg config) oncesim.StreamConfig {
	if cfg.streamURL == "" {
		return oncesim.StreamConfig{}
	}
	return oncesim.StreamConfig{URL: cfg.streamURL, User: cfg.streamUser, Password: cfg.streamPassword,
		IntervalMS: int(cfg.streamInterval.Milliseconds())}
}

// loadSIMs reads the inventory file if given, else generates SIMs from the flags.
func loadSIMs(cfg config) ([]onceapi.SIM, error) {
	if cfg.inventoryFile != "" {
		return oncesim.LoadInventoryFile(cfg.inventoryFile)
	}
	sims, err := oncesim.Generate(cfg.count, cfg.iccidPrefix, cfg.ipPattern, cfg.ipStart)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return sims, nil
}

// serve answers on ln until ctx ends, then drains in-flight requests within shutdownTimeout;
// request contexts are cancelled first so injected delays end at once.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	cancelRequests()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		log.Warn("graceful shutdown incomplete, closing", slog.String("error", err.Error()))
		_ = hs.Close()
	}
	log.Info("stopped")
	return nil
}

// dialAddr is the address a client on this machine can dial: an unspecified listen host
// (":0", "0.0.0.0", "::") is reported as 127.0.0.1.
func dialAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}
