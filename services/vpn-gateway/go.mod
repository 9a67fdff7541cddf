module github.com/simbridge/simbridge/services/vpn-gateway

go 1.26.0

require github.com/simbridge/simbridge/libs v0.0.0

require (
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
)

replace github.com/simbridge/simbridge/libs => ../../libs
