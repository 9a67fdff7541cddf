package app

import "github.com/simbridge/simbridge/libs/steps"

// Steps of provisioning besides the claim's (simrec.StepLoad,
// simrec.StepClaim), named in failure notifications, metrics and the
// record's last failure.
const (
	StepThing         = "ensure thing"
	StepMint          = "mint certificate"
	StepCertify       = "certify request"
	StepSeal          = "seal private key"
	StepRecordNext    = "record new certificate"
	StepRegister      = "register certificate"
	StepAttachThing   = "attach certificate to thing"
	StepAttachPolicy  = "attach policy"
	StepActivate      = "activate certificate"
	StepRecordActive  = "record active"
	StepRetire        = "revoke replaced certificate"
	StepRecordRetired = "record replaced certificate revoked"
	StepRecordKeyMode = "record key mode"
)

var step = steps.Wrap
