package iotfake_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotcore/iotcoretest"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
)

var names atomic.Int64

// The fake passes the contract libs/iotcore passes on the emulator.
func TestFakeContract(t *testing.T) {
	t.Parallel()
	iotcoretest.Run(t, func(t *testing.T) iotcoretest.Subject {
		f := iotfake.New()
		return iotcoretest.Subject{
			IoT: f, Policy: "policy", ThingType: "sim",
			Name:    func(*testing.T) string { return fmt.Sprintf("thing-%d", names.Add(1)) },
			Status:  func(_ *testing.T, id string) types.CertificateStatus { return f.Status(id) },
			Foreign: func(_ *testing.T, name string) { f.ForeignThing(name) },
			Issue: func(t *testing.T) (string, string, string) {
				certPEM, id, err := iotfake.NewCertificate("d")
				if err != nil {
					t.Fatal(err)
				}
				return certPEM, "CA", id
			},
		}
	})
}
