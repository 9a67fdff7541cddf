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

// AnalyzeCommands derives, for a command line built on cobra, the AWS
// operations each group of its commands can reach: the call graph is built
// from main as for the services, then walked from the functions group names
// in pkgPath and their closures (the commands' RunE functions); group
// returns "" for functions that start no command. all is what main reaches,
// so a test can check that every command was put in a group.
func AnalyzeCommands(dir, main, pkgPath string, group func(fn string) string) (byGroup map[string][]Operation, all []Operation, err error) {
	cfg := &packages.Config{Mode: packages.LoadAllSyntax, Dir: dir}
	pkgs, err := packages.Load(cfg, main)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", main, err)
	}
	if n := packages.PrintErrors(pkgs); n > 0 {
		return nil, nil, fmt.Errorf("load %s: %d errors", main, n)
	}
	prog, ssaPkgs := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	var mainPkg *ssa.Package
	for _, p := range ssaPkgs {
		if p != nil && p.Pkg.Name() == "main" {
			mainPkg = p
		}
	}
	if mainPkg == nil {
		return nil, nil, fmt.Errorf("%s has no main package", main)
	}
	roots := []*ssa.Function{mainPkg.Func("init"), mainPkg.Func("main")}
	graph := refinedCallGraph(prog, roots)
	groupRoots := map[string][]*ssa.Function{}
	for _, p := range prog.AllPackages() {
		if p.Pkg.Path() != pkgPath {
			continue
		}
		for _, m := range p.Members {
			fn, ok := m.(*ssa.Function)
			if !ok {
				continue
			}
			if g := group(fn.Name()); g != "" {
				// The function itself (a library entry point such as
				// bootstrap.EnsureCA) and its closures (a command's RunE).
				groupRoots[g] = append(groupRoots[g], fn)
				groupRoots[g] = append(groupRoots[g], closures(fn)...)
			}
		}
	}
	byGroup = map[string][]Operation{}
	for g, rs := range groupRoots {
		byGroup[g] = operationsFrom(graph, rs)
	}
	return byGroup, operationsFrom(graph, roots), nil
}

// closures are the anonymous functions defined in fn, at any depth.
func closures(fn *ssa.Function) []*ssa.Function {
	var out []*ssa.Function
	for _, a := range fn.AnonFuncs {
		out = append(out, a)
		out = append(out, closures(a)...)
	}
	return out
}

func operationsFrom(graph *callgraph.Graph, roots []*ssa.Function) []Operation {
	seen := map[Operation]bool{}
	var ops []Operation
	for fn := range reachable(graph, roots) {
		if isCredentialProvider(fn) {
			continue
		}
		for _, e := range graph.Nodes[fn].Out {
			if op, ok := operationOf(e.Callee.Func); ok && !seen[op] {
				seen[op] = true
				ops = append(ops, op)
			}
		}
	}
	sort.Slice(ops, func(a, b int) bool { return ops[a].String() < ops[b].String() })
	return ops
}
