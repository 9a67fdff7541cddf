package app

import "github.com/simbridge/simbridge/libs/steps"

// Steps of provisioning, named in failure notifications and metrics.
const (
	StepLoad         = "load record"
	StepThing        = "ensure thing"
	StepStrays       = "retire stray certificates"
	StepCertificate  = "create certificate"
	StepAttachThing  = "attach certificate to thing"
	StepRecordIntent = "record intent"
	StepOrphans      = "sweep orphaned certificates"
	StepSeal         = "seal private key"
	StepAttach       = "attach certificate and policy"
	StepActivate     = "activate certificate"
	StepRecordActive = "record active"
	StepRecordIP     = "record new IP"
)

var step = steps.Wrap
