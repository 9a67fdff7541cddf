package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// RequestRunner handles one sync request (app.Requests).
type RequestRunner interface {
	Run(ctx context.Context, req events.SyncRequest, notBefore time.Time) (app.Result, error)
	Record(ctx context.Context, id string, res app.Result) error
}

// RequestObserver counts handled requests, for metrics.
type RequestObserver interface {
	SyncRequest(source, kind, status string)
}

// SyncRequests turns the messages of the sync-request queue into runs
// (messaging.Consumer.Middleware does the retries, backoff and DLQ). A run is
// stopped when stop ends (SIGTERM): the message is handed back at once and
// the next task runs it; published commands are deduplicated.
type SyncRequests struct {
	Runner   RequestRunner
	Observer RequestObserver
	Logger   *slog.Logger
	Stop     context.Context
}

// Handle is the Watermill handler of the sync-request queue (behind
// messaging.Consumer.Middleware). An invalid request goes to the DLQ with a
// failed result, so its requester learns why.
func (h SyncRequests) Handle(msg *message.Message) error {
	req, err := events.DecodeSyncRequest(msg.Payload)
	work := messaging.Work{Subject: messaging.Subject{What: "Sync request"}}
	if req.ID != "" && len(req.ID) <= 128 {
		work.Subject.What = fmt.Sprintf("Sync request %q", req.ID)
	}
	if err != nil {
		if req.ID != "" && len(req.ID) <= 128 {
			work.GiveUp = func(ctx context.Context, cause error) { h.giveUp(ctx, req, app.Result{}, cause) }
		}
		messaging.Describe(msg.Context(), work)
		return fmt.Errorf("%w: %w", messaging.ErrMalformed, err)
	}
	notBefore := messaging.SentAt(msg)
	if notBefore.IsZero() {
		notBefore = req.RequestedAt
	}
	var last app.Result
	work.Log = []any{"request", req.ID, "source", req.Source, "iccids", len(req.ICCIDs)}
	work.GiveUp = func(ctx context.Context, cause error) { h.giveUp(ctx, req, last, cause) }
	ctx, cancel := context.WithCancelCause(messaging.Describe(msg.Context(), work))
	defer cancel(nil)
	defer context.AfterFunc(h.Stop, func() { cancel(ErrShutdown) })()
	res, err := h.Runner.Run(ctx, req, notBefore)
	last = res
	if err != nil && errors.Is(context.Cause(ctx), ErrShutdown) {
		return fmt.Errorf("%w: %w", messaging.ErrInterrupted, err)
	}
	if err != nil {
		return err
	}
	h.log(req, res)
	return h.Runner.Record(ctx, req.ID, res)
}

// giveUp records a failed result for a request the queue gave up on.
func (h SyncRequests) giveUp(ctx context.Context, req events.SyncRequest, last app.Result, cause error) {
	res := app.GiveUp(last, cause)
	h.Observer.SyncRequest(req.Source, kindOf(req), res.Status)
	if err := h.Runner.Record(ctx, req.ID, res); err != nil {
		h.Logger.Error("result of a failed sync request not stored", "request", req.ID, "error", err)
	}
}

// log writes the one line of a finished request; a full sync that
// succeeded logs "sync done" like every other trigger (the stale-sync
// alarm counts those lines).
func (h SyncRequests) log(req events.SyncRequest, res app.Result) {
	kind := kindOf(req)
	h.Observer.SyncRequest(req.Source, kind, res.Status)
	attrs := []any{"trigger", "request", "request", req.ID, "source", req.Source, "summary", res.Summary}
	switch {
	case req.DryRun:
		// a lookup or an audit's plan: no run, so never "sync done" (the
		// stale-sync alarm counts those lines)
		h.Logger.Info("dry run answered", append(attrs, "kind", kind, "status", res.Status)...)
	case kind == "full" && res.Err == nil:
		h.Logger.Info("sync done", append(attrs, "force", req.Force)...)
	case kind == "full":
		h.Logger.Error("sync failed", append(attrs, "force", req.Force, "error", res.Err)...)
	case res.Err == nil:
		h.Logger.Info("targeted sync done", attrs...)
	default:
		h.Logger.Error("targeted sync failed", append(attrs, "error", res.Err)...)
	}
}

func kindOf(req events.SyncRequest) string {
	switch {
	case req.DryRun && len(req.ICCIDs) == 0:
		return "full-dry-run"
	case req.DryRun:
		return "lookup"
	case len(req.ICCIDs) == 0:
		return "full"
	}
	return "targeted"
}
