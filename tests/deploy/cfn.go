package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a CloudFormation template as generic values, with the YAML
// short forms (!Ref, !Sub, !GetAtt, …) turned into their long forms and
// Fn::ForEach loops expanded, so tests can read resources as AWS will.
type Template struct {
	Parameters map[string]any
	// Rules are the template's parameter rules (Rules section), by name.
	Rules map[string]any
	// Conditions are the template's conditions, by name.
	Conditions map[string]any
	// Mappings are the template's mappings, by name.
	Mappings  map[string]any
	Resources map[string]Resource
	// Outputs are the stack outputs' values by name.
	Outputs map[string]any
}

// Resource is one resource of the template.
type Resource struct {
	Type         string
	Properties   map[string]any
	Condition    string
	UpdatePolicy map[string]any
	// DeletionPolicy and UpdateReplacePolicy as written (a string or an Fn::If).
	DeletionPolicy, UpdateReplacePolicy any
}

// LoadTemplate reads and decodes path.
func LoadTemplate(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(b)
}

// ParseTemplate decodes a YAML template.
func ParseTemplate(b []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	doc, err := decodeNode(root.Content[0])
	if err != nil {
		return nil, err
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template is not a mapping")
	}
	t := &Template{Resources: map[string]Resource{}}
	t.Parameters, _ = m["Parameters"].(map[string]any)
	t.Rules, _ = m["Rules"].(map[string]any)
	t.Conditions, _ = m["Conditions"].(map[string]any)
	t.Mappings, _ = m["Mappings"].(map[string]any)
	t.Outputs = map[string]any{}
	outs, _ := m["Outputs"].(map[string]any)
	for name, o := range outs {
		if om, ok := o.(map[string]any); ok {
			t.Outputs[name] = om["Value"]
		}
	}
	res, ok := m["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template has no Resources")
	}
	expanded, err := expandForEach(res)
	if err != nil {
		return nil, err
	}
	for id, v := range expanded {
		r, _ := v.(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		typ, _ := r["Type"].(string)
		cond, _ := r["Condition"].(string)
		upd, _ := r["UpdatePolicy"].(map[string]any)
		t.Resources[id] = Resource{Type: typ, Properties: props, Condition: cond, UpdatePolicy: upd,
			DeletionPolicy: r["DeletionPolicy"], UpdateReplacePolicy: r["UpdateReplacePolicy"]}
	}
	return t, nil
}

// OfType returns the logical ids of resources of type typ.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	return ids
}

var shortForms = map[string]string{
	"!Ref": "Ref", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!If": "Fn::If", "!Equals": "Fn::Equals",
	"!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!Select": "Fn::Select", "!GetAZs": "Fn::GetAZs",
	"!Cidr": "Fn::Cidr", "!FindInMap": "Fn::FindInMap", "!Join": "Fn::Join", "!Split": "Fn::Split",
	"!Base64": "Fn::Base64", "!ImportValue": "Fn::ImportValue", "!Condition": "Condition",
}

func decodeNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return decodeNode(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := decodeNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := decodeNode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	default:
		if n.Tag == "!GetAtt" && n.Kind == yaml.ScalarNode {
			a, b, _ := strings.Cut(n.Value, ".")
			return map[string]any{"Fn::GetAtt": []any{a, b}}, nil
		}
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, err
		}
	}
	if long, ok := shortForms[n.Tag]; ok {
		return map[string]any{long: v}, nil
	}
	return v, nil
}

// expandForEach expands Fn::ForEach::<name>: [Identifier, [values], {OutputKey: body}]
// as AWS::LanguageExtensions does for string collections.
func expandForEach(res map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for id, v := range res {
		if !strings.HasPrefix(id, "Fn::ForEach::") {
			out[id] = v
			continue
		}
		loop, ok := v.([]any)
		if !ok || len(loop) != 3 {
			return nil, fmt.Errorf("%s: want [identifier, collection, outputs]", id)
		}
		ident, _ := loop[0].(string)
		values, _ := loop[1].([]any)
		outputs, _ := loop[2].(map[string]any)
		for _, val := range values {
			s, _ := val.(string)
			for key, body := range outputs {
				out[substituteLoop(key, ident, s)] = substituteAll(body, ident, s)
			}
		}
	}
	return out, nil
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

func substituteLoop(s, ident, val string) string {
	s = strings.ReplaceAll(s, "&{"+ident+"}", nonAlnum.ReplaceAllString(val, ""))
	return strings.ReplaceAll(s, "${"+ident+"}", val)
}

func substituteAll(v any, ident, val string) any {
	switch x := v.(type) {
	case string:
		return substituteLoop(x, ident, val)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substituteAll(e, ident, val)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = substituteAll(e, ident, val)
		}
		return out
	}
	return v
}

// Eval resolves the intrinsic functions tests need with fixed parameter
// values: Ref of parameters and pseudo parameters, Fn::Sub (string form) and,
// for resources, a token "<LogicalId>" or "<LogicalId.Attr>" so a value can
// be compared with the resource it names.
func (t *Template) Eval(v any, params map[string]string) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			if p, ok := params[ref]; ok {
				return p
			}
			return "<" + ref + ">"
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return fmt.Sprintf("<%v.%v>", ga[0], ga[1])
		}
		if sub, ok := x["Fn::Sub"].(string); ok {
			return subPattern.ReplaceAllStringFunc(sub, func(m string) string {
				name := m[2 : len(m)-1]
				if strings.HasPrefix(name, "!") {
					return "${" + name[1:] + "}"
				}
				if p, ok := params[name]; ok {
					return p
				}
				return "<" + name + ">"
			})
		}
	}
	return fmt.Sprintf("%v", v)
}

var subPattern = regexp.MustCompile(`\$\{[^}]+\}`)
