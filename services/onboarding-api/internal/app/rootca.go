package app

import _ "embed"

// AmazonRootCA1 is a local copy of the root CA devices need to trust IoT
// Core, served from memory instead of downloaded per request.
//
//go:embed AmazonRootCA1.pem
var AmazonRootCA1 string

// AmazonRootCAURL is where the root CA is published, as the reference answers.
const AmazonRootCAURL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"
