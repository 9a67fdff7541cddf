package service_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
)

// onboarding-api on DynamoDB and SQS (moto): an enrolment puts its command
// on the provisioner's FIFO queue, grouped by the SIM, answers 202 when
// the certificate does not come within ENROL_WAIT, and answers the same
// request with the certificate once the record names it.
func TestEnrolmentThroughTheQueue(t *testing.T) {
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	name := testkit.Name(t)
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, simstore.TableDefinition(name)); err != nil {
		t.Fatal(err)
	}
	store := simstore.NewDynamo(db, name)
	const iccid = "8988280666000000088"
	rec := simrec.Record{ICCID: iccid, IP: simIP, ThingName: iccid, KeyMode: simrec.KeyModeDevice, LastCommand: "create-1"}
	rec.SetState(simrec.StateActive)
	if _, err := store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + ".fifo"),
		Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	url, opsURL, logs := startService(t, map[string]string{"SIM_TABLE": name, "API_KEY_VALUE": "key-1", "IOT_ENDPOINT": "ep.example",
		"CREATE_QUEUE": name + ".fifo", "ENROL_WAIT": "1s"})
	enrolURL := strings.Replace(url, "/device-api/onboarding", "/device-api/certificate", 1)
	der, _ := testkit.NewCSR(t, testkit.CSRP256)
	post := func() (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, enrolURL, strings.NewReader(string(testkit.CSRPEM(der))))
		req.Header.Set("onboarding-ip", simIP)
		req.Header.Set("x-api-key", "key-1")
		req.Header.Set("Content-Type", "application/pkcs10")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	code, hdr, body := post()
	if code != http.StatusAccepted || hdr.Get("Retry-After") == "" {
		t.Fatalf("no provisioner: %d %s (Retry-After %q), want 202 with Retry-After", code, body, hdr.Get("Retry-After"))
	}
	msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId}})
	if err != nil || len(msgs.Messages) != 1 {
		t.Fatalf("%d messages on the queue (%v), want the one enrolment", len(msgs.Messages), err)
	}
	m := msgs.Messages[0]
	cmd, err := events.DecodeSimCommand([]byte(aws.ToString(m.Body)))
	csr, _ := x509.ParseCertificateRequest(der)
	if err != nil || cmd.Kind != events.KindEnrol || cmd.ICCID != iccid || cmd.CSR != string(testkit.CSRPEM(der)) ||
		cmd.ID != events.EnrolID(iccid, csr.RawSubjectPublicKeyInfo) || cmd.BaseVersion != 1 || m.Attributes["MessageGroupId"] != iccid {
		t.Fatalf("command %+v group %q (%v)", cmd, m.Attributes["MessageGroupId"], err)
	}

	// What the provisioner writes once the certificate is ACTIVE.
	got, _ := store.Get(ctx, iccid)
	got.LastCommand = cmd.ID
	got.Cert = &simrec.Credentials{ID: "cid", PEM: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", Command: cmd.ID, DeviceKey: true}
	got.Enrolled(simrec.Enrolment{At: time.Now(), CertificateID: "cid", Command: cmd.ID})
	if _, err := store.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	code, _, body = post()
	var answer struct{ Certificate, CertificateID, ICCID, IoTCoreEndpointURL string }
	if err := json.Unmarshal([]byte(body), &answer); code != 200 || err != nil || answer.CertificateID != "cid" || answer.ICCID != iccid || answer.IoTCoreEndpointURL != "ep.example" {
		t.Fatalf("the same request once certified: %d %s", code, body)
	}
	metrics := get200(t, opsURL+"/metrics")
	for _, series := range []string{`simbridge_onboarding_api_enrolments_total{result="pending"} 1`, `simbridge_onboarding_api_enrolments_total{result="existing"} 1`} {
		if !strings.Contains(metrics, series) {
			t.Errorf("no %s in /metrics", series)
		}
	}
	for _, op := range []string{"SendMessage", "GetItem"} {
		if !strings.Contains(metrics, `simbridge_aws_call_duration_seconds_count{operation="`+op+`"`) {
			t.Errorf("no AWS call metric for %s", op)
		}
	}
	if strings.Contains(logs.String(), "key-1") {
		t.Error("logs contain the API key")
	}
}
