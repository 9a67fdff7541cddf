package app

import "github.com/simbridge/simbridge/libs/steps"

// Steps of provisioning, named in failure notifications, metrics and the
// record's last failure.
const (
	StepLoad          = "load record"
	StepClaim         = "claim record"
	StepThing         = "ensure thing"
	StepMint          = "mint certificate"
	StepSeal          = "seal private key"
	StepRecordNext    = "record new certificate"
	StepRegister      = "register certificate"
	StepAttachThing   = "attach certificate to thing"
	StepAttachPolicy  = "attach policy"
	StepActivate      = "activate certificate"
	StepRecordActive  = "record active"
	StepRetire        = "revoke replaced certificate"
	StepRecordRetired = "record replaced certificate revoked"
)

var step = steps.Wrap
