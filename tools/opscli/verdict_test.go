package opscli

import (
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
)

// TestJudge pins the verdicts of status and the command each one advises.
func TestJudge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const id, policy = "8988280666000000001", "p-device-policy"
	cert := &simrec.Credentials{ID: "c1", ARN: "arn:aws:iot:r:1:cert/c1", PEM: "pem", KeyCiphertext: []byte{1}}
	active := func() *simrec.Record {
		r := &simrec.Record{ICCID: id, IP: "10.0.0.1", Cert: cert, ThingName: id, Version: 3}
		r.SetState(simrec.StateActive)
		return r
	}
	healthy := func() *IoTView {
		return &IoTView{Thing: ThingView{Name: id, Exists: true, Managed: true, Principals: []string{cert.ARN}},
			Certificates: []CertView{{ID: "c1", ARN: cert.ARN, Role: RoleCurrent, Status: "ACTIVE", Policies: []string{policy}, OnThing: true}}}
	}
	enabled := &OnceView{Found: true, Status: "Enabled", IP: "10.0.0.1"}
	cases := []struct {
		name       string
		in         judgeInput
		state      string
		wantAction string
	}{
		{"onboardable", judgeInput{Rec: active(), IoT: healthy(), Once: enabled}, VerdictOnboardable, ""},
		{"certificate inactive", judgeInput{Rec: active(), IoT: func() *IoTView { v := healthy(); v.Certificates[0].Status = "INACTIVE"; return v }(), Once: enabled}, VerdictDrift, "reissue"},
		{"no policy", judgeInput{Rec: active(), IoT: func() *IoTView { v := healthy(); v.Certificates[0].Policies = nil; return v }()}, VerdictDrift, "reissue"},
		{"thing gone", judgeInput{Rec: active(), IoT: &IoTView{Thing: ThingView{Name: id}}}, VerdictDrift, "reissue"},
		{"disabled in 1NCE", judgeInput{Rec: active(), IoT: healthy(), Once: &OnceView{Found: true, Status: "Disabled", IP: "10.0.0.1"}}, VerdictDrift, "sync"},
		{"IP moved in 1NCE", judgeInput{Rec: active(), IoT: healthy(), Once: &OnceView{Found: true, Status: "Enabled", IP: "10.0.0.9"}}, VerdictDrift, "sync"},
		{"gone from 1NCE", judgeInput{Rec: active(), IoT: healthy(), Once: &OnceView{}}, VerdictDrift, "sync"},
		{"IP conflict", judgeInput{Rec: active(), IoT: healthy(), Conflicts: []string{"8988280666000000002"}}, VerdictDrift, "sync"},
		{"failed", judgeInput{Rec: func() *simrec.Record {
			r := active()
			r.LastFailure = &simrec.Failure{Step: "attach policy", Reason: "throttled", Attempts: 5}
			return r
		}()}, VerdictFailed, "redrive"},
		{"at work", judgeInput{Rec: func() *simrec.Record {
			r := active()
			r.ClaimedBy, r.ClaimedUntil = "cmd", now.Add(time.Minute)
			return r
		}()}, VerdictPending, ""},
		{"disabled with an ACTIVE certificate", judgeInput{Rec: func() *simrec.Record {
			r := active()
			r.SetState(simrec.StateDisabled)
			return r
		}(), IoT: healthy()}, VerdictDrift, "revoke"},
		{"disabled", judgeInput{Rec: func() *simrec.Record {
			r := active()
			r.SetState(simrec.StateDisabled)
			return r
		}(), Once: &OnceView{Found: true, Status: "Disabled"}}, VerdictDisabled, ""},
		{"revoked", judgeInput{Rec: func() *simrec.Record {
			r := active()
			r.SetState(simrec.StateRevoked)
			return r
		}()}, VerdictRevoked, "enable"},
		{"pending without a command", judgeInput{Rec: &simrec.Record{ICCID: id, State: simrec.StatePending}}, VerdictPending, "sync"},
		{"not provisioned yet", judgeInput{Once: enabled}, VerdictPending, "sync"},
		{"not managed", judgeInput{Once: &OnceView{Found: true, Status: "Disabled"}}, VerdictNotManaged, ""},
		{"unknown", judgeInput{Once: &OnceView{}}, VerdictNotFound, ""},
		{"thing without record", judgeInput{IoT: &IoTView{Thing: ThingView{Name: id, Exists: true, Managed: true}}}, VerdictDrift, "sync"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.in.ICCID, c.in.Now, c.in.Policy = id, now, policy
			v := judge(c.in)
			if v.State != c.state {
				t.Fatalf("state %s, want %s: %+v", v.State, c.state, v)
			}
			if c.wantAction != "" && !strings.Contains(strings.Join(v.Actions, "\n"), "simbridge "+c.wantAction) && !strings.Contains(strings.Join(v.Actions, "\n"), c.wantAction) {
				t.Errorf("actions %q lack %q", v.Actions, c.wantAction)
			}
			if v.NeedsAttention() != (c.state == VerdictDrift || c.state == VerdictFailed || c.state == VerdictNotFound) {
				t.Errorf("attention %v for %s", v.NeedsAttention(), v.State)
			}
		})
	}
}
