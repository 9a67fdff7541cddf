module github.com/simbridge/simbridge/tools

go 1.26

require (
	github.com/simbridge/simbridge/libs v0.0.0
	golang.org/x/time v0.16.0
)

replace github.com/simbridge/simbridge/libs => ../libs
