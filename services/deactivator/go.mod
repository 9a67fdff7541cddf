module github.com/simbridge/simbridge/services/deactivator

go 1.26

require github.com/simbridge/simbridge/libs v0.0.0

replace github.com/simbridge/simbridge/libs => ../../libs
