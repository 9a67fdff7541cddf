// Package bootstrap creates, idempotently, what the services need in an AWS
// account (or the emulator): FIFO queues with dead-letter queues, the SNS
// topics, the SIM table, the KMS key, the IoT device policy and the
// onboarding API key secret. `make run` and the tests use it; production
// creates the same resources, with the same names, from the infrastructure
// code in deployments/.
package bootstrap

// Names derives every resource name from one prefix, so environments and
// tests never collide.
type Names struct {
	Prefix string
}

// CreateQueue is the FIFO queue of create and reissue commands
// (provisioner): certificate work.
func (n Names) CreateQueue() string { return n.Prefix + "-sims-create.fifo" }

// CreateDLQ receives create commands that failed too often.
func (n Names) CreateDLQ() string { return n.Prefix + "-sims-create-dlq.fifo" }

// UpdateQueue is the FIFO queue of IP moves (provisioner, on workers of
// their own): a moved device never waits behind other SIMs' certificates.
func (n Names) UpdateQueue() string { return n.Prefix + "-sims-update.fifo" }

// UpdateDLQ receives update commands that failed too often.
func (n Names) UpdateDLQ() string { return n.Prefix + "-sims-update-dlq.fifo" }

// DisableQueue is the FIFO queue of disable commands (deactivator).
func (n Names) DisableQueue() string { return n.Prefix + "-sims-disable.fifo" }

// DisableDLQ receives disable commands that failed too often.
func (n Names) DisableDLQ() string { return n.Prefix + "-sims-disable-dlq.fifo" }

// SuccessTopic carries "SIM enabled/disabled/updated" notifications.
func (n Names) SuccessTopic() string { return n.Prefix + "-success" }

// FailureTopic carries failure notifications.
func (n Names) FailureTopic() string { return n.Prefix + "-failure" }

// Table is the SIM record table.
func (n Names) Table() string { return n.Prefix + "-sims" }

// Leases is the table of leases that keep jobs (sim-poller's sync) from
// running on two replicas at once.
func (n Names) Leases() string { return n.Prefix + "-leases" }

// KeyAlias is the alias of the KMS key that encrypts device private keys.
func (n Names) KeyAlias() string { return "alias/" + n.Prefix + "-device-keys" }

// Policy is the IoT policy attached to every device certificate.
func (n Names) Policy() string { return n.Prefix + "-device-policy" }

// APIKeySecret is the Secrets Manager secret shared by vpn-gateway and onboarding-api.
func (n Names) APIKeySecret() string { return n.Prefix + "/onboarding-api-key" }

// EndpointParameter is the SSM parameter the gateway publishes its device-facing endpoint to.
func (n Names) EndpointParameter() string { return n.Prefix + "-openvpn-onboarding-proxy-server" }

// CAKeyAlias is the alias of the KMS signing key of the account's IoT CA.
func (n Names) CAKeyAlias() string { return "alias/" + n.Prefix + "-iot-ca" }

// CAParameter is the SSM parameter holding the IoT CA certificate.
func (n Names) CAParameter() string { return n.Prefix + "-iot-ca-certificate" }

// CAName is the subject of the IoT CA certificate.
func (n Names) CAName() string { return n.Prefix + " device CA" }

// ThingGroup is the thing group every SIM's Thing of the environment joins.
func (n Names) ThingGroup() string { return n.Prefix + "-sims" }

// SyncQueue is sim-poller's FIFO queue of sync requests (operators, Data
// Streamer hints); SyncDLQ its dead-letter queue.
func (n Names) SyncQueue() string { return n.Prefix + "-sync-requests.fifo" }

// SyncDLQ receives sync requests that failed too often.
func (n Names) SyncDLQ() string { return n.Prefix + "-sync-requests-dlq.fifo" }

// SummaryTopic carries one summary per sync run (counts, not one message per
// SIM): what operators' e-mail subscribes to next to the failure topic.
func (n Names) SummaryTopic() string { return n.Prefix + "-sync-summary" }

// ThingType is the thing type of every SIM's Thing (searchable imsi,
// msisdn, label; a Thing without a type may carry only three attributes).
func (n Names) ThingType() string { return n.Prefix + "-sim" }
