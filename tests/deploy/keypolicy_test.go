package deploy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/keyseal"
)

const testAccountRoot = "arn:aws:iam::123456789012:root"

// anyone is an identity of the account the template does not define, with
// IAM policies that may grant anything (AdministratorAccess, a CI role).
var anyone = Identity{Name: "any identity of the account (e.g. AdministratorAccess)",
	ARN: "arn:aws:iam::123456789012:role/some-admin", Unknown: []string{"its IAM policies"}}

// TestKeyAccess pins the evaluator on the cases that decide who can use a
// key: the policy today's main had (the root with kms:*), direct grants,
// wildcards, denies and conditions.
func TestKeyAccess(t *testing.T) {
	t.Parallel()
	key := "<Key.Arn>"
	rootAll := Statement{Sid: "RootAll", Effect: "Allow", Principals: []string{testAccountRoot}, Actions: []string{"kms:*"}}
	withIAM := Identity{Name: "Service", ARN: "<ServiceRole.Arn>", IAM: []Statement{{Sid: "Use", Effect: "Allow", Actions: []string{"kms:Decrypt"}, Resources: []string{key}}}}
	otherKey := Identity{Name: "Other", ARN: "<OtherRole.Arn>", IAM: []Statement{{Sid: "Use", Effect: "Allow", Actions: []string{"kms:*"}, Resources: []string{"<OtherKey.Arn>"}}}}
	bare := Identity{Name: "Bare", ARN: "<BareRole.Arn>"}
	ctxCond := map[string]map[string][]string{"StringEquals": {"kms:EncryptionContext:purpose": {"p"}}}
	cases := []struct {
		name   string
		policy []Statement
		who    Identity
		action string
		want   bool
		via    string
	}{
		{"root kms:* lets any IAM identity decrypt", []Statement{rootAll}, anyone, "kms:Decrypt", true, "RootAll (account root)"},
		{"root kms:* plus an IAM grant", []Statement{rootAll}, withIAM, "kms:Decrypt", true, "IAM Use"},
		{"root kms:* without an IAM grant", []Statement{rootAll}, bare, "kms:Decrypt", false, ""},
		{"an IAM grant on another key", []Statement{rootAll}, otherKey, "kms:Decrypt", false, ""},
		{"named in the key policy, no IAM needed", []Statement{{Sid: "Direct", Effect: "Allow", Principals: []string{"<BareRole.Arn>"}, Actions: []string{"kms:Decrypt"}}}, bare, "kms:Decrypt", true, "Direct"},
		{"named for another action", []Statement{{Sid: "Direct", Effect: "Allow", Principals: []string{"<BareRole.Arn>"}, Actions: []string{"kms:Encrypt"}}}, bare, "kms:Decrypt", false, ""},
		{"IAM grant but no root statement", []Statement{{Sid: "Direct", Effect: "Allow", Principals: []string{"<BareRole.Arn>"}, Actions: []string{"kms:Decrypt"}}}, withIAM, "kms:Decrypt", false, ""},
		{"Get* is not Decrypt", []Statement{{Sid: "Admin", Effect: "Allow", Principals: []string{testAccountRoot}, Actions: []string{"kms:Get*", "kms:Describe*"}}}, anyone, "kms:Decrypt", false, ""},
		{"Get* covers GetPublicKey", []Statement{{Sid: "Admin", Effect: "Allow", Principals: []string{testAccountRoot}, Actions: []string{"kms:Get*"}}}, anyone, "kms:GetPublicKey", true, "Admin"},
		{"Create* covers CreateGrant", []Statement{{Sid: "Admin", Effect: "Allow", Principals: []string{testAccountRoot}, Actions: []string{"kms:Create*"}}}, anyone, "kms:CreateGrant", true, "Admin"},
		{"actions compare case-insensitively", []Statement{{Sid: "Odd", Effect: "Allow", Principals: []string{"*"}, Actions: []string{"KMS:decrypt"}}}, bare, "kms:Decrypt", true, "Odd"},
		{"a deny wins", []Statement{rootAll, {Sid: "NoDecrypt", Effect: "Deny", Principals: []string{"*"}, Actions: []string{"kms:Decrypt"}}}, anyone, "kms:Decrypt", false, "denied by NoDecrypt"},
		{"conditions are carried", []Statement{{Sid: "Ctx", Effect: "Allow", Principals: []string{"<BareRole.Arn>"}, Actions: []string{"kms:Decrypt"}, Conditions: ctxCond}}, bare, "kms:Decrypt", true, "Ctx"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := KeyAccess(c.policy, key, c.who, c.action, testAccountRoot)
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != c.want || !strings.Contains(strings.Join(got.Via, "; "), c.via) {
				t.Fatalf("allowed=%v via %v, want %v via %q", got.Allowed, got.Via, c.want, c.via)
			}
			if c.name == "conditions are carried" && (len(got.Conditions) != 1 || got.Conditions[0]["StringEquals"] == nil) {
				t.Errorf("conditions %v", got.Conditions)
			}
		})
	}
	if _, err := KeyAccess([]Statement{{Sid: "If", Effect: "Deny", Principals: []string{"*"}, Actions: []string{"kms:*"}, Conditions: ctxCond}}, key, bare, "kms:Decrypt", testAccountRoot); err == nil {
		t.Error("a conditional Deny was evaluated as if it always or never applied")
	}
}

// TestConditionsHold: the operators the key policies use, on the requests
// they must tell apart.
func TestConditionsHold(t *testing.T) {
	t.Parallel()
	conds := map[string]map[string][]string{
		"StringEquals":              {"kms:EncryptionContext:purpose": {"device-private-key"}},
		"Null":                      {"kms:EncryptionContext:iccid": {"false"}},
		"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": {"purpose", "iccid"}},
	}
	cases := []struct {
		name string
		req  Request
		want bool
	}{
		{"the context keyseal uses", Request{"kms:EncryptionContext:purpose": {"device-private-key"}, "kms:EncryptionContext:iccid": {"8988"}, "kms:EncryptionContextKeys": {"purpose", "iccid"}}, true},
		{"no ICCID", Request{"kms:EncryptionContext:purpose": {"device-private-key"}, "kms:EncryptionContextKeys": {"purpose"}}, false},
		{"another purpose", Request{"kms:EncryptionContext:purpose": {"backup"}, "kms:EncryptionContext:iccid": {"8988"}, "kms:EncryptionContextKeys": {"purpose", "iccid"}}, false},
		{"an extra key", Request{"kms:EncryptionContext:purpose": {"device-private-key"}, "kms:EncryptionContext:iccid": {"8988"}, "kms:EncryptionContext:x": {"y"}, "kms:EncryptionContextKeys": {"purpose", "iccid", "x"}}, false},
		{"no context at all", Request{}, false},
	}
	for _, c := range cases {
		got, err := ConditionsHold(conds, c.req)
		if err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	if _, err := ConditionsHold(map[string]map[string][]string{"IpAddress": {"aws:SourceIp": {"10.0.0.0/8"}}}, Request{}); err == nil {
		t.Error("an operator the evaluator does not know was accepted")
	}
}

// keyEnv is the production stack's evaluation environment with overrides.
func keyEnv(t *testing.T, tpl *Template, overrides map[string]string) Env {
	t.Helper()
	p := templateParams(tpl, map[string]string{"Prefix": testParams["Prefix"], "Environment": "production", "OnceUsername": "ops", "ImageRepository": "r", "ImageTag": "t",
		"AlarmEmail": "oncall@example.com"})
	maps.Copy(p, overrides)
	env, err := tpl.EnvFor(p)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// whoMay lists, sorted, the identities that may call action on key, with
// the conditions of the statements that allow it.
func whoMay(t *testing.T, tpl *Template, env Env, keyID, action string, ids []Identity) (names []string, conds map[string][]map[string]map[string][]string) {
	t.Helper()
	policy, err := tpl.KeyPolicy(keyID, env)
	if err != nil {
		t.Fatal(err)
	}
	conds = map[string][]map[string]map[string][]string{}
	for _, who := range ids {
		a, err := KeyAccess(policy, "<"+keyID+".Arn>", who, action, testAccountRoot)
		if err != nil {
			t.Fatal(err)
		}
		if a.Allowed {
			names = append(names, who.Name)
			conds[who.Name] = a.Conditions
		}
	}
	sort.Strings(names)
	return names, conds
}

// TestKeyPoliciesLetOnlyTheirServiceUseTheKeys proves, for every principal
// of the template (each IAM role, the key administrator, and any other
// identity of the account with whatever IAM policy), who can use each key:
// device keys are decrypted by onboarding-api only and sealed by the
// provisioner and whoever adopts; certificates are signed by the
// provisioner and the CA setup only; administrators manage the keys
// (PutKeyPolicy included, or the policy could never change again) and use
// neither. It prints the table it proves.
func TestKeyPoliciesLetOnlyTheirServiceUseTheKeys(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	admin := "arn:aws:iam::123456789012:role/key-admins"
	for _, c := range []struct {
		name      string
		overrides map[string]string
		admins    []string
	}{
		{"administered by the account", nil, []string{anyone.Name}},
		{"administered by KeyAdminPrincipalArn", map[string]string{"KeyAdminPrincipalArn": admin}, []string{"KeyAdminPrincipalArn"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := keyEnv(t, tpl, c.overrides)
			ids, err := tpl.Identities(env)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, anyone)
			if c.overrides != nil {
				ids = append(ids, Identity{Name: "KeyAdminPrincipalArn", ARN: admin, Unknown: []string{"its IAM policies"}})
			}
			want := map[string]map[string][]string{
				"DeviceKey": {
					"kms:Decrypt": {"OnboardingApiTaskRole"},
					"kms:Encrypt": {"AdopterRole", "ProvisionerTaskRole"},
				},
				"CASigningKey": {
					"kms:Sign": {"CASetupRole", "ProvisionerTaskRole"},
				},
			}
			var table []string
			for _, key := range []string{"DeviceKey", "CASigningKey"} {
				for _, action := range KeyUseActions {
					got, _ := whoMay(t, tpl, env, key, action, ids)
					if fmt.Sprint(got) != fmt.Sprint(want[key][action]) {
						t.Errorf("%s %s: %v may, want exactly %v", key, action, got, want[key][action])
					}
					if len(got) > 0 {
						table = append(table, fmt.Sprintf("%-13s %-24s %v", key, action, got))
					}
				}
				for _, action := range KeyAdminActions {
					got, _ := whoMay(t, tpl, env, key, action, ids)
					for _, a := range c.admins {
						if !contains(got, a) {
							t.Errorf("%s %s: the administrator (%s) may not: locked out of its own key", key, action, a)
						}
					}
					for _, who := range got {
						if r, ok := tpl.Resources[who]; ok && r.Type == "AWS::IAM::Role" && len(identity(ids, who).Unknown) == 0 {
							t.Errorf("%s %s: role %s may administer the key", key, action, who)
						}
					}
					table = append(table, fmt.Sprintf("%-13s %-24s %v", key, action, got))
				}
			}
			t.Logf("who may use and administer the keys (%s):\n%s", c.name, strings.Join(table, "\n"))
		})
	}
}

func identity(ids []Identity, name string) Identity {
	for _, i := range ids {
		if i.Name == name {
			return i
		}
	}
	return Identity{}
}

// recordingKMS answers like KMS and keeps what it was asked.
type recordingKMS struct {
	pub      []byte
	enc      *kms.EncryptInput
	dec      *kms.DecryptInput
	sign     *kms.SignInput
	priv     *ecdsa.PrivateKey
	sealedAs []byte
}

func (r *recordingKMS) Encrypt(_ context.Context, in *kms.EncryptInput, _ ...func(*kms.Options)) (*kms.EncryptOutput, error) {
	r.enc = in
	return &kms.EncryptOutput{CiphertextBlob: []byte("sealed")}, nil
}

func (r *recordingKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	r.dec = in
	return &kms.DecryptOutput{Plaintext: []byte("key")}, nil
}

func (r *recordingKMS) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	return &kms.GetPublicKeyOutput{PublicKey: r.pub, KeyUsage: kmstypes.KeyUsageTypeSignVerify}, nil
}

func (r *recordingKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	r.sign = in
	sig, err := ecdsa.SignASN1(rand.Reader, r.priv, in.Message)
	return &kms.SignOutput{Signature: sig}, err
}

// contextRequest is the condition context KMS derives from an encryption context.
func contextRequest(ctx map[string]string) Request {
	req := Request{}
	for k, v := range ctx {
		req["kms:EncryptionContext:"+k] = []string{v}
		req["kms:EncryptionContextKeys"] = append(req["kms:EncryptionContextKeys"], k)
	}
	return req
}

// TestKeyPolicyConditionsMatchWhatTheCodeSends: the conditions under which
// the key policies allow Decrypt, Encrypt and Sign hold for the requests
// libs/keyseal and libs/iotca really make (the encryption context with the
// ICCID; SHA-256 digests signed with ECDSA), so the services keep working,
// and fail for a request without the ICCID.
func TestKeyPolicyConditionsMatchWhatTheCodeSends(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	env := keyEnv(t, tpl, nil)
	ids, err := tpl.Identities(env)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingKMS{pub: der, priv: priv}
	ctx := context.Background()
	sealer, err := keyseal.NewSealer(rec, "key")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sealer.Seal(ctx, "8988280666001099538", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := keyseal.NewOpener(rec, "key").Open(ctx, "8988280666001099538", []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	signer, err := iotca.NewSigner(ctx, rec, "ca")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("tbs certificate"))
	if _, err := signer.WithContext(ctx).Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		key, action, who string
		req              Request
	}{
		{"DeviceKey", "kms:Encrypt", "ProvisionerTaskRole", contextRequest(rec.enc.EncryptionContext)},
		{"DeviceKey", "kms:Encrypt", "AdopterRole", contextRequest(rec.enc.EncryptionContext)},
		{"DeviceKey", "kms:Decrypt", "OnboardingApiTaskRole", contextRequest(rec.dec.EncryptionContext)},
		{"CASigningKey", "kms:Sign", "ProvisionerTaskRole", Request{"kms:SigningAlgorithm": {string(rec.sign.SigningAlgorithm)}, "kms:MessageType": {string(rec.sign.MessageType)}}},
		{"CASigningKey", "kms:Sign", "CASetupRole", Request{"kms:SigningAlgorithm": {string(rec.sign.SigningAlgorithm)}, "kms:MessageType": {string(rec.sign.MessageType)}}},
	}
	for _, r := range requests {
		_, conds := whoMay(t, tpl, env, r.key, r.action, ids)
		holds := func(req Request) bool {
			for _, c := range conds[r.who] {
				ok, err := ConditionsHold(c, req)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					return true
				}
			}
			return len(conds[r.who]) == 0
		}
		if !holds(r.req) {
			t.Errorf("%s %s by %s: the policy's conditions %v refuse what the code sends %v", r.key, r.action, r.who, conds[r.who], r.req)
		}
		if len(conds[r.who]) == 0 {
			t.Errorf("%s %s by %s is allowed without conditions; want the request pinned to what the code sends", r.key, r.action, r.who)
		}
		if r.key == "DeviceKey" {
			noICCID := maps.Clone(r.req)
			delete(noICCID, "kms:EncryptionContext:iccid")
			noICCID["kms:EncryptionContextKeys"] = []string{"purpose"}
			if holds(noICCID) {
				t.Errorf("%s %s by %s is allowed without the ICCID in the encryption context", r.key, r.action, r.who)
			}
		}
	}
}
