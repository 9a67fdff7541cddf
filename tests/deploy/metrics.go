package deploy

import (
	"go/constant"
	"go/types"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/tools/go/ssa"
)

// promPkg is the Prometheus client library; its *Opts structs name every
// metric a program defines.
const promPkg = "github.com/prometheus/client_golang/prometheus"

// Metric is one series family a program defines.
type Metric struct {
	Name string
	// Kind is counter, gauge, histogram or summary (from the Opts type).
	Kind string
	// Where is the position of the definition.
	Where string
}

// optsKinds maps the client library's option structs to metric kinds.
var optsKinds = map[string]string{
	"CounterOpts": "counter", "GaugeOpts": "gauge", "HistogramOpts": "histogram", "SummaryOpts": "summary", "Opts": "untyped",
}

// collectMetrics finds the prometheus.*Opts values built in fn (a composite
// literal is an allocation whose fields are stored one by one) and records
// the full name when Namespace, Subsystem and Name are all constants.
func collectMetrics(prog *ssa.Program, fn *ssa.Function, res *Program) {
	for _, b := range fn.Blocks {
		for _, instr := range b.Instrs {
			alloc, ok := instr.(*ssa.Alloc)
			if !ok {
				continue
			}
			kind, ok := optsKind(alloc.Type())
			if !ok {
				continue
			}
			parts, resolved := optsNameParts(alloc)
			where := prog.Fset.Position(alloc.Pos()).String()
			if !resolved {
				res.Unresolved = append(res.Unresolved, where)
				continue
			}
			if parts["Name"] == "" {
				continue
			}
			name := prometheus.BuildFQName(parts["Namespace"], parts["Subsystem"], parts["Name"])
			res.Metrics[name] = Metric{Name: name, Kind: kind, Where: where}
		}
	}
}

func optsKind(t types.Type) (string, bool) {
	ptr, ok := t.(*types.Pointer)
	if !ok {
		return "", false
	}
	named, ok := ptr.Elem().(*types.Named)
	if !ok || named.Obj().Pkg() == nil || named.Obj().Pkg().Path() != promPkg {
		return "", false
	}
	kind, ok := optsKinds[named.Obj().Name()]
	return kind, ok
}

// optsNameParts reads the constant strings stored into the Namespace,
// Subsystem and Name fields of an Opts allocation; resolved is false when
// one of them is stored but not a constant.
func optsNameParts(alloc *ssa.Alloc) (map[string]string, bool) {
	st := alloc.Type().(*types.Pointer).Elem().Underlying().(*types.Struct)
	parts := map[string]string{}
	for _, ref := range *alloc.Referrers() {
		fa, ok := ref.(*ssa.FieldAddr)
		if !ok || fa.X != alloc {
			continue
		}
		field := st.Field(fa.Field).Name()
		if field != "Namespace" && field != "Subsystem" && field != "Name" {
			continue
		}
		for _, r := range *fa.Referrers() {
			store, ok := r.(*ssa.Store)
			if !ok || store.Addr != fa {
				continue
			}
			c, ok := store.Val.(*ssa.Const)
			if !ok || c.Value == nil || c.Value.Kind() != constant.String {
				return nil, false
			}
			parts[field] = constant.StringVal(c.Value)
		}
	}
	return parts, true
}

// Emits reports whether p defines the series name as exposed: a family, or
// a histogram's or summary's _bucket, _sum or _count series.
func (p Program) Emits(name string) bool {
	if _, ok := p.Metrics[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		m, ok := p.Metrics[base]
		if ok && (m.Kind == "histogram" || (m.Kind == "summary" && suffix != "_bucket")) {
			return true
		}
	}
	return false
}
