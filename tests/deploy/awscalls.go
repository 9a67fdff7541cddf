package deploy

import (
	"fmt"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/cha"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

// sdkServicePrefix is the import path prefix of the AWS SDK's service clients.
const sdkServicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// Operation is one AWS API operation: the SDK service package name
// ("dynamodb", "iotdataplane", …) and the operation name ("PutItem").
type Operation struct {
	Service string
	Name    string
}

func (o Operation) String() string { return o.Service + ":" + o.Name }

// Program is what the tests derive from one service's main package.
type Program struct {
	// Operations are the AWS SDK operations the program can reach.
	Operations []Operation
	// Metrics are the Prometheus series the program can define, by full name.
	Metrics map[string]Metric
	// Unresolved are metric definitions whose name is not a constant (where
	// the call graph found them), so Metrics cannot list them.
	Unresolved []string
}

// AnalyzePrograms returns, for each main package (import path), what its
// program can reach: every method of a service client (*<service>.Client)
// with the shape of an operation, and every Prometheus metric definition
// (prometheus.*Opts literals), that the call graph finds reachable from main,
// through direct calls, interfaces (iotcore.API, paginators) and libraries
// (Watermill).
func AnalyzePrograms(dir string, mains ...string) (map[string]Program, error) {
	out := map[string]Program{}
	for _, m := range mains {
		progs, err := analyzePrograms(dir, m)
		if err != nil {
			return nil, err
		}
		for k, v := range progs {
			out[k] = v
		}
	}
	return out, nil
}

func analyzePrograms(dir string, mains ...string) (map[string]Program, error) {
	cfg := &packages.Config{Mode: packages.LoadAllSyntax, Dir: dir}
	pkgs, err := packages.Load(cfg, mains...)
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", mains, err)
	}
	if n := packages.PrintErrors(pkgs); n > 0 {
		return nil, fmt.Errorf("load %v: %d errors", mains, n)
	}
	prog, ssaPkgs := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	out := map[string]Program{}
	for i, p := range ssaPkgs {
		if p == nil || p.Pkg.Name() != "main" {
			continue
		}
		roots := []*ssa.Function{p.Func("init"), p.Func("main")}
		graph := refinedCallGraph(prog, roots)
		seen := map[Operation]bool{}
		res := Program{Metrics: map[string]Metric{}}
		for fn := range reachable(graph, roots) {
			collectMetrics(prog, fn, &res)
			if isCredentialProvider(fn) {
				continue
			}
			for _, e := range graph.Nodes[fn].Out {
				if op, ok := operationOf(e.Callee.Func); ok && !seen[op] {
					seen[op] = true
					res.Operations = append(res.Operations, op)
				}
			}
		}
		sort.Slice(res.Operations, func(a, b int) bool { return res.Operations[a].String() < res.Operations[b].String() })
		sort.Strings(res.Unresolved)
		out[pkgs[i].PkgPath] = res
	}
	return out, nil
}

// operationOf recognises func (c *Client) Op(ctx, *OpInput, ...func(*Options)) (*OpOutput, error)
// in an SDK service package.
func operationOf(fn *ssa.Function) (Operation, bool) {
	sig := fn.Signature
	if sig.Recv() == nil || fn.Pkg == nil {
		return Operation{}, false
	}
	path := fn.Pkg.Pkg.Path()
	svc, ok := strings.CutPrefix(path, sdkServicePrefix)
	if !ok || strings.Contains(svc, "/") {
		return Operation{}, false
	}
	ptr, ok := sig.Recv().Type().(*types.Pointer)
	if !ok {
		return Operation{}, false
	}
	named, ok := ptr.Elem().(*types.Named)
	if !ok || named.Obj().Name() != "Client" || sig.Params().Len() != 3 {
		return Operation{}, false
	}
	in, ok := sig.Params().At(1).Type().(*types.Pointer)
	if !ok {
		return Operation{}, false
	}
	inNamed, ok := in.Elem().(*types.Named)
	if !ok || inNamed.Obj().Name() != fn.Name()+"Input" {
		return Operation{}, false
	}
	return Operation{Service: svc, Name: fn.Name()}, true
}

// isCredentialProvider reports functions of the SDK's configuration and
// credential packages: their STS/SSO calls obtain credentials and need no
// permission of the task role.
func isCredentialProvider(fn *ssa.Function) bool {
	if fn.Pkg == nil {
		return false
	}
	path := fn.Pkg.Pkg.Path()
	return strings.HasPrefix(path, "github.com/aws/aws-sdk-go-v2/") && !strings.HasPrefix(path, sdkServicePrefix)
}

// refinedCallGraph starts from the class-hierarchy call graph (every method
// that could implement an interface call) and refines it twice with
// Variable Type Analysis restricted to what is reachable from roots, so an
// interface call only reaches the types that actually flow into it.
func refinedCallGraph(prog *ssa.Program, roots []*ssa.Function) *callgraph.Graph {
	graph := cha.CallGraph(prog)
	for range 2 {
		graph = vta.CallGraph(reachable(graph, roots), graph)
	}
	return graph
}

// reachable walks the call graph from roots.
func reachable(g *callgraph.Graph, roots []*ssa.Function) map[*ssa.Function]bool {
	seen := map[*ssa.Function]bool{}
	var stack []*callgraph.Node
	for _, r := range roots {
		if n := g.Nodes[r]; n != nil {
			stack = append(stack, n)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n.Func] {
			continue
		}
		seen[n.Func] = true
		for _, e := range n.Out {
			stack = append(stack, e.Callee)
		}
	}
	return seen
}
