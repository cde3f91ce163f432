package lambdahost

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// AsyncRetryDelays are the waits before the two retries of a failed
// asynchronous invocation. Lambda waits about 1 and 2 minutes; locally
// seconds keep the feedback loop short. Tests may shorten them further.
var AsyncRetryDelays = []time.Duration{time.Second, 2 * time.Second}

// InvokeAsync queues payload like an InvocationType=Event call: it returns
// at once, and a failed run is retried after each of AsyncRetryDelays.
func (h *Host) InvokeAsync(name string, payload []byte) error {
	h.mu.Lock()
	_, ok := h.functions[name]
	closed := h.closed
	if ok && !closed {
		h.async.Add(1)
	}
	h.mu.Unlock()
	if !ok {
		return errors.New("lambdahost: no function " + name)
	}
	if closed {
		return errors.New("lambdahost: host is closed")
	}
	go func() {
		defer h.async.Done()
		for attempt := 0; ; attempt++ {
			_, err := h.Invoke(context.Background(), name, payload)
			if err == nil {
				return
			}
			if attempt >= len(AsyncRetryDelays) || h.isClosed() {
				h.logger.Error("async invocation failed for good", "function", name, "attempts", attempt+1, "error", err.Error())
				return
			}
			h.logger.Warn("async invocation failed; retrying", "function", name, "attempt", attempt+1, "error", err.Error())
			time.Sleep(AsyncRetryDelays[attempt])
		}
	}()
	return nil
}

// WaitAsync blocks until every queued asynchronous invocation has ended.
func (h *Host) WaitAsync() { h.async.Wait() }

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// InvokeAPI serves the Lambda Invoke API
// (POST /2015-03-31/functions/{name}/invocations), so the unchanged SDK
// client reaches local functions through AWS_ENDPOINT_URL_LAMBDA.
func (h *Host) InvokeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
		if err != nil || len(payload) > 6<<20 {
			apiError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "payload over 6 MB")
			return
		}
		h.mu.Lock()
		_, ok := h.functions[name]
		h.mu.Unlock()
		if !ok {
			apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
			return
		}
		switch r.Header.Get("X-Amz-Invocation-Type") {
		case "Event":
			if err := h.InvokeAsync(name, payload); err != nil {
				apiError(w, http.StatusServiceUnavailable, "ServiceException", err.Error())
				return
			}
			w.WriteHeader(http.StatusAccepted)
		case "DryRun":
			w.WriteHeader(http.StatusNoContent)
		default:
			out, err := h.Invoke(r.Context(), name, payload)
			var fe *Error
			if errors.As(err, &fe) {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
				out, _ = json.Marshal(fe)
			} else if err != nil {
				apiError(w, http.StatusServiceUnavailable, "ServiceException", err.Error())
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
		}
	})
	return mux
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
