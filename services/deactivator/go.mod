module github.com/simbridge/simbridge/services/deactivator

go 1.26.0

require github.com/simbridge/simbridge/libs v0.0.0

require (
	github.com/ThreeDotsLabs/watermill v1.5.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/lithammer/shortuuid/v3 v3.0.7 // indirect
	github.com/oklog/ulid v1.3.1 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
)

replace github.com/simbridge/simbridge/libs => ../../libs
