package sqsstub

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an SQS error as the AWS JSON protocol carries it: the shape
// name in "__type" (which the SDK maps to its typed errors, e.g.
// *types.QueueDoesNotExist) and the legacy query code in the
// x-amzn-query-error header (which becomes the error's ErrorCode()).
type apiError struct {
	shape     string // e.g. QueueDoesNotExist
	queryCode string // e.g. AWS.SimpleQueueService.NonExistentQueue
	message   string
}

func (e *apiError) Error() string { return e.shape + ": " + e.message }

func errQueueDoesNotExist() *apiError {
	return &apiError{"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."}
}

func errQueueNameExists(name string) *apiError {
	return &apiError{"QueueNameExists", "QueueAlreadyExists",
		"A queue already exists with the same name and a different value for an attribute: " + name}
}

func errReceiptInvalid(handle string) *apiError {
	return &apiError{"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
		fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", handle)}
}

func errNotInflight() *apiError {
	return &apiError{"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "The message referred to is not in flight."}
}

func errAttributeName(name string) *apiError {
	return &apiError{"InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute " + name + "."}
}

func errAttributeValue(format string, args ...any) *apiError {
	return &apiError{"InvalidAttributeValue", "InvalidAttributeValue", fmt.Sprintf(format, args...)}
}

// errParameter is SQS's InvalidParameterValue, which has no modelled type:
// the SDK returns it as a *smithy.GenericAPIError with that code.
func errParameter(format string, args ...any) *apiError {
	return &apiError{"InvalidParameterValue", "InvalidParameterValue", fmt.Sprintf(format, args...)}
}

func errMissing(param string) *apiError {
	return &apiError{"MissingParameter", "MissingParameter", "The request must contain the parameter " + param + "."}
}

func errUnsupported(op string) *apiError {
	return &apiError{"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "sqsstub does not implement " + op + "."}
}

// writeError answers err the way SQS does: status 400, JSON body with the
// shape id, and the query-compatible code header.
func writeError(w http.ResponseWriter, err *apiError) {
	w.Header().Set("x-amzn-query-error", err.queryCode+";Sender")
	writeJSON(w, http.StatusBadRequest, map[string]string{
		"__type":  "com.amazonaws.sqs#" + err.shape,
		"message": err.message,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
