module github.com/simbridge/simbridge/tests/e2e

go 1.26

require (
	github.com/simbridge/simbridge/libs v0.0.0
	github.com/simbridge/simbridge/tools v0.0.0
)

replace (
	github.com/simbridge/simbridge/libs => ../../libs
	github.com/simbridge/simbridge/tools => ../../tools
)
