package opscli_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// TestSIMLifecycleThroughTheServices drives one SIM through enable, status,
// list, export, reissue, revoke and enable again with the real provisioner
// and deactivator, checking each outcome in the record and IoT Core.
func TestSIMLifecycleThroughTheServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 3)
	e.start("provisioner")
	e.start("deactivator")
	e.startPoller()
	a, b := e.iccid(1), e.iccid(2)

	// enable a SIM without record: a create with the IP from 1NCE
	var out opscli.CommandOutcome
	e.run("-o", "json", "enable", "--yes", a).want(t, opscli.ExitOK).json(t, &out)
	if out.Outcome != "done" || out.State != "active" || out.CertificateID == "" || out.CommandID == "" || !strings.Contains(out.RequestedBy, "arn:") {
		t.Fatalf("enable: %+v", out)
	}
	if rec := e.record(a); rec.IP != "10.77.0.1" || rec.LastCommand != out.CommandID {
		t.Fatalf("record after enable: %+v", rec)
	}
	e.run("enable", a).want(t, opscli.ExitOK) // active already: nothing sent
	e.provision(b)

	t.Run("JSON a script can trust", func(t *testing.T) {
		for _, args := range [][]string{{"status", a}, {"list"}, {"export"}, {"failures"}, {"audit", "--skip-1nce"}, {"context"},
			{"revoke", a, "--dry-run"}, {"ca", "show"}} {
			r := e.run(append([]string{"-o", "json"}, args...)...)
			if !json.Valid([]byte(r.stdout)) {
				t.Errorf("%v: not JSON: %s", args, r)
			}
			if strings.Contains(r.stdout, "null") || strings.Contains(r.stdout, " ago") {
				t.Errorf("%v: null or a relative time in JSON:\n%s", args, r.stdout)
			}
		}
	})

	t.Run("status", func(t *testing.T) {
		r := e.run("status", a).want(t, opscli.ExitOK)
		containsAll(t, r.stdout, "SIM", a, "1NCE", "Enabled, IP 10.77.0.1", "Record", "active", "IoT Core", "managed-by=simbridge",
			e.res.ThingGroup(), "ACTIVE, policy "+e.res.Policy()+", on the Thing (current)", "ONBOARDABLE", "credentials fetched never")
		var st opscli.SIMStatus
		e.run("-o", "json", "status", "10.77.0.1").want(t, opscli.ExitOK).json(t, &st)
		if st.ICCID != a || st.Verdict.State != opscli.VerdictOnboardable || st.Once == nil || st.Once.IMSI == "" || st.IoT == nil || !st.IoT.Thing.Managed {
			t.Fatalf("status by IP: %+v", st)
		}
		e.run("status", e.iccid(99)).want(t, opscli.ExitAttention)
		e.run("status", "10.99.99.99").want(t, opscli.ExitAttention)
		var pending opscli.SIMStatus
		e.run("-o", "json", "status", e.iccid(3)).want(t, opscli.ExitOK).json(t, &pending)
		if pending.Verdict.State != opscli.VerdictPending {
			t.Errorf("SIM enabled in 1NCE without record: %+v", pending.Verdict)
		}
	})

	t.Run("list and export", func(t *testing.T) {
		var rows []opscli.ListRow
		e.run("-o", "json", "list", "--state", "active", "--sort", "ip").want(t, opscli.ExitOK).json(t, &rows)
		if len(rows) != 2 || rows[0].ICCID != a || rows[1].ICCID != b {
			t.Fatalf("list: %+v", rows)
		}
		e.run("-o", "json", "list", "--state", "revoked").want(t, opscli.ExitOK).json(t, &rows)
		if len(rows) != 0 {
			t.Fatalf("no SIM is revoked: %+v", rows)
		}
		e.run("-o", "json", "list", "--never-fetched", "--since", "1h").want(t, opscli.ExitOK).json(t, &rows)
		if len(rows) != 2 {
			t.Fatalf("never fetched: %+v", rows)
		}
		withBar := e.run("--progress", "always", "list").want(t, opscli.ExitOK)
		containsAll(t, withBar.stderr, "scanning "+e.res.Table(), "SIMs/s", "100%")
		table := e.run("list").want(t, opscli.ExitOK).stdout
		containsAll(t, table, "ICCID", "STATE", "FETCHED", a, b, "active")
		csvOut := e.run("-o", "csv", "list").want(t, opscli.ExitOK).stdout
		recs, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
		if err != nil || len(recs) != 3 || recs[0][0] != "iccid" {
			t.Fatalf("list csv (%v):\n%s", err, csvOut)
		}
		exp := e.run("export").want(t, opscli.ExitOK).stdout
		recs, err = csv.NewReader(strings.NewReader(exp)).ReadAll()
		if err != nil || len(recs) != 3 || !strings.Contains(strings.Join(recs[0], ","), "certificate_id,authority,issued_at") {
			t.Fatalf("export (%v):\n%s", err, exp)
		}
		e.run("-o", "json", "export").want(t, opscli.ExitOK).json(t, &rows)
		if len(rows) != 2 || rows[0].CertificateID == "" || rows[0].IssuedAt == nil || rows[0].IssuedAt.IsZero() {
			t.Fatalf("export json: %+v", rows)
		}
		// CSV for scripts: full ids and RFC 3339 times, in list and export
		for _, out := range []string{exp, csvOut} {
			recs, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
			col := map[string]int{}
			for i, name := range recs[0] {
				col[name] = i
			}
			for _, row := range recs[1:] {
				if len(row[col["certificate_id"]]) != 64 {
					t.Errorf("certificate id %q cut short:\n%s", row[col["certificate_id"]], out)
				}
				for _, c := range []string{"issued_at", "created_at", "updated_at"} {
					if _, err := time.Parse(time.RFC3339, row[col[c]]); err != nil {
						t.Errorf("%s %q is not RFC 3339: %v", c, row[col[c]], err)
					}
				}
			}
		}
	})

	old := e.record(a).CertificateID()
	t.Run("reissue", func(t *testing.T) {
		var out opscli.CommandOutcome
		e.run("-o", "json", "reissue", a, "--reason", "test", "--yes").want(t, opscli.ExitOK).json(t, &out)
		if out.Outcome != "done" || out.CertificateID == old || out.State != "active" {
			t.Fatalf("reissue: %+v", out)
		}
		if st := certStatus(t, e, old); st != "REVOKED" {
			t.Errorf("replaced certificate is %s", st)
		}
		if st := certStatus(t, e, out.CertificateID); st != "ACTIVE" {
			t.Errorf("new certificate is %s", st)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		cur := e.record(a).CertificateID()
		r := e.run("revoke", a, "--yes").want(t, opscli.ExitOK)
		containsAll(t, r.stdout, "revoke "+a+": done", "state revoked")
		if st := certStatus(t, e, cur); st != "REVOKED" {
			t.Errorf("revoked SIM's certificate is %s", st)
		}
		r = e.run("revoke", a).want(t, opscli.ExitOK)
		containsAll(t, r.stdout, "noop", "revoked already")
		r = e.run("reissue", a).want(t, opscli.ExitError)
		containsAll(t, r.stderr, "only an active SIM")
		var st opscli.SIMStatus
		e.run("-o", "json", "status", a).want(t, opscli.ExitOK).json(t, &st)
		if st.Verdict.State != opscli.VerdictRevoked {
			t.Errorf("status of a revoked SIM: %+v", st.Verdict)
		}
	})

	t.Run("enable a revoked SIM", func(t *testing.T) {
		revoked := e.record(a).CertificateID()
		var out opscli.CommandOutcome
		e.run("-o", "json", "enable", a, "--yes").want(t, opscli.ExitOK).json(t, &out)
		if out.Outcome != "done" || out.State != "active" || out.CertificateID == revoked {
			t.Fatalf("enable after revoke: %+v", out)
		}
		e.run("status", a).want(t, opscli.ExitOK)
	})

	t.Run("enable refuses what 1NCE disabled", func(t *testing.T) {
		if err := e.once.Inventory().SetStatus(e.iccid(3), onceapi.StatusDisabled); err != nil {
			t.Fatal(err)
		}
		r := e.run("enable", e.iccid(3)).want(t, opscli.ExitError)
		containsAll(t, r.stderr, "Disabled", "enable it in 1NCE first")
		e.run("enable", e.iccid(98)).want(t, opscli.ExitAttention)
		e.run("revoke", e.iccid(98)).want(t, opscli.ExitAttention)
	})
}

func certStatus(t *testing.T, e *env, id string) string {
	t.Helper()
	d, err := e.iot.DescribeCertificate(context.Background(), &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		t.Fatalf("describe certificate %s: %v", id, err)
	}
	return string(d.CertificateDescription.Status)
}
