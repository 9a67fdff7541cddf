package opscli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config"
)

// credentials is a certificate and its key, PEM, as a reference item holds
// them.
func credentials(t *testing.T) (certPEM string, key config.Secret) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "AWS IoT Certificate"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		config.Secret(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
}

// TestPlanItems: the disagreements the reference's items show by
// themselves, and which item a SIM is adopted from.
func TestPlanItems(t *testing.T) {
	t.Parallel()
	on, off := true, false
	item := func(iccid, ip string, active *bool) refItem {
		c, k := credentials(t)
		return refItem{PK: "IP#" + ip, SK: refSK, ICCID: iccid, IP: ip, Cert: c, Key: k, Active: active, Updated: "2024-01-01T00:00:00.000Z"}
	}
	_, otherKey := credentials(t)
	mismatched := item("8988280666000000005", "10.0.0.5", &on)
	mismatched.Key = otherKey
	noKey := item("8988280666000000006", "10.0.0.6", &on)
	noKey.Key = ""
	wrongSK := item("8988280666000000007", "10.0.0.7", &on)
	wrongSK.SK = "P#HTTP"
	ipDisagrees := item("8988280666000000008", "10.0.0.8", &on)
	ipDisagrees.IP = "10.0.0.80"
	items := []refItem{
		item("8988280666000000001", "10.0.0.1", &on),
		item("8988280666000000002", "10.0.0.2", &off),
		// moved: the old item disabled, the new one active
		item("8988280666000000003", "10.0.1.3", &off), item("8988280666000000003", "10.0.0.3", &on),
		// two active items: unknown which certificate the device holds
		item("8988280666000000004", "10.0.0.4", &on), item("8988280666000000004", "10.0.1.4", &on),
		mismatched, noKey, wrongSK, ipDisagrees,
		item("not-an-iccid", "10.0.0.9", &on),
		item("8988280666000000010", "10.0.0.300", &on),
		item("8988280666000000011", "10.0.0.11", nil),
		// one IP spelled two ways: either SIM could be the device there
		item("8988280666000000012", "10.0.0.12", &on), item("8988280666000000013", "::ffff:10.0.0.12", &on),
		item("8988280666000000014", "::ffff:10.0.0.14", &on),
	}
	got := map[string]string{}
	for _, c := range planItems(items) {
		var kinds []string
		for _, p := range c.Problems {
			kinds = append(kinds, "!"+p.Kind)
		}
		for _, n := range c.Notes {
			kinds = append(kinds, n.Kind)
		}
		got[c.ICCID] = fmt.Sprintf("%s %s", c.IP, strings.Join(kinds, ","))
		if strings.Contains(fmt.Sprint(c), "PRIVATE KEY") || strings.Contains(fmt.Sprintf("%+v %#v", c.Item, c.Item), "PRIVATE KEY") {
			t.Errorf("%s: printing a candidate shows its key", c.ICCID)
		}
	}
	want := map[string]string{
		"8988280666000000001": "10.0.0.1 ",
		"8988280666000000002": "10.0.0.2 ",
		"8988280666000000003": "10.0.0.3 duplicate-iccid",
		"8988280666000000004": " !duplicate-iccid",
		"8988280666000000005": "10.0.0.5 !key-mismatch",
		"8988280666000000006": "10.0.0.6 !bad-item",
		"8988280666000000007": "10.0.0.7 !bad-item",
		"8988280666000000008": "10.0.0.80 !bad-item",
		"not-an-iccid":        "10.0.0.9 !bad-item",
		"8988280666000000010": "10.0.0.300 !bad-item",
		"8988280666000000011": "10.0.0.11 !bad-item",
		"8988280666000000012": "10.0.0.12 !ip-taken",
		"8988280666000000013": "10.0.0.12 !ip-taken",
		"8988280666000000014": "10.0.0.14 ",
	}
	for iccid, w := range want {
		if got[iccid] != w {
			t.Errorf("%s: got %q, want %q", iccid, got[iccid], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("candidates %v", got)
	}
}

// TestAdoptFlags: the combinations adopt refuses before any call.
func TestAdoptFlags(t *testing.T) {
	t.Parallel()
	ok := adoptFlags{table: "sim-metastore", workers: 16, timeout: time.Minute, iotQuotas: defaultAdoptQuotas}
	cases := map[string]struct {
		change func(*adoptFlags)
		ok     bool
	}{
		"dry run":            {func(*adoptFlags) {}, true},
		"apply":              {func(f *adoptFlags) { f.apply = true }, true},
		"purge --yes":        {func(f *adoptFlags) { f.purge, f.yes = true, true }, true},
		"purge --dry-run":    {func(f *adoptFlags) { f.purge, f.dry = true, true }, true},
		"apply and purge":    {func(f *adoptFlags) { f.apply, f.purge = true, true }, false},
		"--yes alone":        {func(f *adoptFlags) { f.yes = true }, false},
		"--dry-run alone":    {func(f *adoptFlags) { f.dry = true }, false},
		"no table":           {func(f *adoptFlags) { f.table = "" }, false},
		"too many workers":   {func(f *adoptFlags) { f.workers = 1000 }, false},
		"no time to wait in": {func(f *adoptFlags) { f.timeout = 0 }, false},
		"bad quotas":         {func(f *adoptFlags) { f.iotQuotas = "DescribeThing" }, false},
	}
	for name, c := range cases {
		f := ok
		c.change(&f)
		if err := f.validate(); (err == nil) != c.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}
