module github.com/simbridge/simbridge/services/provisioner

go 1.26.0

require github.com/simbridge/simbridge/libs v0.0.0

require (
	github.com/aws/aws-sdk-go-v2 v1.47.7 // indirect
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.5.10 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.8.10 // indirect
	github.com/aws/aws-sdk-go-v2/service/iotdataplane v1.30.0 // indirect
	github.com/aws/smithy-go v1.28.8 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
)

replace github.com/simbridge/simbridge/libs => ../../libs
