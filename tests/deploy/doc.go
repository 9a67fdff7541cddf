// Package deploy checks the deployment artefacts (images, docker compose,
// CloudFormation) against the code they deploy.
package deploy
