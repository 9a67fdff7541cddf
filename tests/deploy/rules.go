package deploy

import (
	"fmt"
	"sort"
	"strings"
)

// This file evaluates what CloudFormation decides from parameter values
// alone: the template's conditions and its Rules (the assertions checked
// before any resource is created), with the functions both may use.

// evalBool evaluates a condition or rule expression: Fn::Equals, Fn::Not,
// Fn::And, Fn::Or, Condition (by name), over values from evalValue.
func (t *Template) evalBool(v any, params map[string]string, seen map[string]bool) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a condition function: %v", v)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes two values: %v", arg)
			}
			a, err := t.evalValue(args[0], params)
			if err != nil {
				return false, err
			}
			b, err := t.evalValue(args[1], params)
			return a == b, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not takes one condition: %v", arg)
			}
			b, err := t.evalBool(args[0], params, seen)
			return !b, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				b, err := t.evalBool(a, params, seen)
				if err != nil {
					return false, err
				}
				if b != and {
					return b, nil
				}
			}
			return and, nil
		case "Condition":
			name, _ := arg.(string)
			if seen[name] {
				return false, fmt.Errorf("condition %s refers to itself", name)
			}
			def, ok := t.Conditions[name]
			if !ok {
				return false, fmt.Errorf("no condition %s", name)
			}
			seen[name] = true
			defer delete(seen, name)
			return t.evalBool(def, params, seen)
		}
		return false, fmt.Errorf("%s cannot be evaluated from parameters", fn)
	}
	return false, nil
}

// evalValue evaluates a string a condition compares: a literal, a Ref to a
// parameter, or an Fn::Join of them (a CommaDelimitedList joins its items).
func (t *Template) evalValue(v any, params map[string]string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			p, ok := params[ref]
			if !ok {
				return "", fmt.Errorf("parameter %s has no value", ref)
			}
			return p, nil
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep := fmt.Sprint(j[0])
			if list, isRef := j[1].(map[string]any); isRef {
				s, err := t.evalValue(list, params)
				return strings.Join(strings.Split(s, ","), sep), err
			}
			var parts []string
			for _, e := range asList(j[1]) {
				s, err := t.evalValue(e, params)
				if err != nil {
					return "", err
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, sep), nil
		}
	}
	return "", fmt.Errorf("cannot evaluate %v from parameters", v)
}

// EnvFor evaluates every condition of the template with params (each
// parameter's value: defaults merged in by the caller).
func (t *Template) EnvFor(params map[string]string) (Env, error) {
	env := Env{Params: params, Conditions: map[string]bool{}}
	for name := range t.Conditions {
		b, err := t.evalBool(map[string]any{"Condition": name}, params, map[string]bool{})
		if err != nil {
			return Env{}, fmt.Errorf("condition %s: %w", name, err)
		}
		env.Conditions[name] = b
	}
	return env, nil
}

// RuleFailures returns, sorted, the AssertDescription of every assertion of
// the template's Rules that params break (a rule applies when it has no
// RuleCondition or its RuleCondition holds), as CloudFormation refuses a
// stack before creating anything.
func (t *Template) RuleFailures(params map[string]string) ([]string, error) {
	var failed []string
	for name, r := range t.Rules {
		rule, _ := r.(map[string]any)
		if c, ok := rule["RuleCondition"]; ok {
			applies, err := t.evalBool(c, params, map[string]bool{})
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", name, err)
			}
			if !applies {
				continue
			}
		}
		for _, a := range asList(rule["Assertions"]) {
			as, _ := a.(map[string]any)
			ok, err := t.evalBool(as["Assert"], params, map[string]bool{})
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", name, err)
			}
			if !ok {
				failed = append(failed, strings.Join(strings.Fields(fmt.Sprint(as["AssertDescription"])), " "))
			}
		}
	}
	sort.Strings(failed)
	return failed, nil
}
