package sqsstub

import "testing"

// The expected value was returned by moto for the same message and
// accepted by botocore, which verifies MD5OfMessageAttributes.
func TestAttributesMD5(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		name  string
		attrs map[string]attrValue
		want  string
	}{
		{"none", nil, ""},
		{"string number binary custom", map[string]attrValue{
			"b": {DataType: "String", StringValue: s("x")},
			"a": {DataType: "Number", StringValue: s("42")},
			"c": {DataType: "Binary", BinaryValue: []byte{0, 1, 2}},
			"d": {DataType: "String.custom", StringValue: s("ü")},
		}, "3cf4a7d49798b835c00aae9deec4f644"},
	}
	for _, c := range cases {
		if got := attributesMD5(c.attrs); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	if got := md5Hex("hello"); got != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("md5Hex(hello) = %s", got)
	}
}
