package bodytmpl

import (
	"fmt"
	"sort"
	"strings"
	"text/template/parse"
)

// The values execution handles, as text/template sees them:
//
//   - map[string]any, []any, string, float64, bool: a decoded JSON body;
//   - int, float64, string, bool: constants, and len's result; uint8: a
//     byte of a string taken with index;
//   - nil: a JSON null met as a map entry or slice element (text/template's
//     nil interface, which is an error to take a field of);
//   - missing: text/template's invalid value (a key the map lacks, or a
//     null once a pipeline has ended), printed "<no value>".
type noValue struct{}

var missing any = noValue{}

// Execute runs the template on data and appends its output to dst. On an
// error the output written before it is returned with the error, as
// text/template leaves it in its writer.
func (t *Template) Execute(dst []byte, data map[string]any) (out []byte, err error) {
	s := &state{out: dst, vars: []variable{{"$", data}}}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(execError)
			if !ok {
				panic(r)
			}
			out, err = s.out, e
		}
	}()
	s.walk(data, t.root)
	return s.out, nil
}

type execError string

func (e execError) Error() string { return "template: " + string(e) }

func fail(format string, args ...any) { panic(execError(fmt.Sprintf(format, args...))) }

type variable struct {
	name string
	v    any
}

type state struct {
	out  []byte
	vars []variable
}

// ctrl is how a walk ended: normally, or at {{break}} / {{continue}}.
type ctrl uint8

const (
	ctrlNone ctrl = iota
	ctrlBreak
	ctrlContinue
)

func (s *state) mark() int            { return len(s.vars) }
func (s *state) pop(mark int)         { s.vars = s.vars[:mark] }
func (s *state) push(n string, v any) { s.vars = append(s.vars, variable{n, v}) }

func (s *state) setVar(name string, v any) {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			s.vars[i].v = v
			return
		}
	}
	fail("undefined variable: %s", name)
}

func (s *state) varValue(name string) any {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			return s.vars[i].v
		}
	}
	fail("undefined variable: %s", name)
	return nil
}

func (s *state) walk(dot any, n parse.Node) ctrl {
	switch n := n.(type) {
	case *parse.ActionNode:
		v := s.evalPipeline(dot, n.Pipe)
		if len(n.Pipe.Decl) == 0 {
			s.print(v)
		}
	case *parse.BreakNode:
		return ctrlBreak
	case *parse.ContinueNode:
		return ctrlContinue
	case *parse.CommentNode:
	case *parse.IfNode:
		return s.walkIfOrWith(false, dot, n.Pipe, n.List, n.ElseList)
	case *parse.WithNode:
		return s.walkIfOrWith(true, dot, n.Pipe, n.List, n.ElseList)
	case *parse.ListNode:
		for _, c := range n.Nodes {
			if r := s.walk(dot, c); r != ctrlNone {
				return r
			}
		}
	case *parse.RangeNode:
		s.walkRange(dot, n)
	case *parse.TextNode:
		s.out = append(s.out, n.Text...)
	default:
		fail("unknown node: %s", n)
	}
	return ctrlNone
}

func (s *state) print(v any) {
	if v == missing {
		s.out = append(s.out, "<no value>"...)
		return
	}
	s.out = fmt.Append(s.out, v)
}

func (s *state) walkIfOrWith(with bool, dot any, pipe *parse.PipeNode, list, elseList *parse.ListNode) ctrl {
	defer s.pop(s.mark())
	v := s.evalPipeline(dot, pipe)
	truth, ok := isTrue(v)
	if !ok {
		fail("if/with can't use %v", v)
	}
	if truth {
		if with {
			return s.walk(v, list)
		}
		return s.walk(dot, list)
	} else if elseList != nil {
		return s.walk(dot, elseList)
	}
	return ctrlNone
}

// isTrue is text/template's truth of a value whose interface was
// removed (nil is then missing: false).
func isTrue(v any) (truth, ok bool) {
	switch v := v.(type) {
	case noValue, nil:
		return false, true
	case map[string]any:
		return len(v) > 0, true
	case []any:
		return len(v) > 0, true
	case string:
		return len(v) > 0, true
	case bool:
		return v, true
	case float64:
		return v != 0, true
	case int:
		return v != 0, true
	case uint8:
		return v != 0, true
	}
	return false, false
}

func (s *state) walkRange(dot any, r *parse.RangeNode) {
	defer s.pop(s.mark())
	v := s.evalPipeline(dot, r.Pipe)
	mark := s.mark()
	decl := r.Pipe.Decl
	// one runs the body once; false at {{break}}.
	one := func(index, elem any) bool {
		if len(decl) > 0 {
			if r.Pipe.IsAssign {
				if len(decl) > 1 {
					s.setVar(decl[0].Ident[0], index)
				} else {
					s.setVar(decl[0].Ident[0], elem)
				}
			} else {
				s.vars[len(s.vars)-1].v = elem
			}
		}
		if len(decl) > 1 {
			if r.Pipe.IsAssign {
				s.setVar(decl[1].Ident[0], elem)
			} else {
				s.vars[len(s.vars)-2].v = index
			}
		}
		defer s.pop(mark)
		return s.walk(elem, r.List) != ctrlBreak
	}
	ran := false
	switch v := v.(type) {
	case int:
		if len(decl) > 1 {
			fail("can't use %v to iterate over more than one variable", v)
		}
		for i := 0; i < v; i++ {
			ran = true
			if !one(missing, i) {
				break
			}
		}
	case []any:
		for i, e := range v {
			ran = true
			if !one(i, e) {
				break
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ran = true
			if !one(k, v[k]) {
				break
			}
		}
	case noValue:
	default:
		fail("range can't iterate over %v", v)
	}
	if !ran && r.ElseList != nil {
		s.walk(dot, r.ElseList)
	}
}

// evalPipeline runs the commands, each one's result the next one's final
// argument. A nil result (a null taken from the data) becomes missing, as
// text/template removes the interface of each result.
func (s *state) evalPipeline(dot any, pipe *parse.PipeNode) any {
	if pipe == nil {
		return missing
	}
	var v any
	hasFinal := false
	for _, cmd := range pipe.Cmds {
		v = s.evalCommand(dot, cmd, v, hasFinal)
		hasFinal = true
		if v == nil {
			v = missing
		}
	}
	for _, d := range pipe.Decl {
		if pipe.IsAssign {
			s.setVar(d.Ident[0], v)
		} else {
			s.push(d.Ident[0], v)
		}
	}
	return v
}

func notAFunction(args []parse.Node, hasFinal bool) {
	if len(args) > 1 || hasFinal {
		fail("can't give argument to non-function %s", args[0])
	}
}

func (s *state) evalCommand(dot any, cmd *parse.CommandNode, final any, hasFinal bool) any {
	switch n := cmd.Args[0].(type) {
	case *parse.FieldNode:
		return s.evalFieldChain(dot, n.Ident, cmd.Args, hasFinal)
	case *parse.ChainNode:
		return s.evalChain(dot, n, cmd.Args, hasFinal)
	case *parse.IdentifierNode:
		return s.evalFunction(dot, n.Ident, cmd.Args, final, hasFinal)
	case *parse.PipeNode:
		notAFunction(cmd.Args, hasFinal)
		return s.evalPipeline(dot, n)
	case *parse.VariableNode:
		return s.evalVariable(dot, n, cmd.Args, hasFinal)
	}
	notAFunction(cmd.Args, hasFinal)
	switch n := cmd.Args[0].(type) {
	case *parse.BoolNode:
		return n.True
	case *parse.DotNode:
		return dot
	case *parse.NilNode:
		fail("nil is not a command")
	case *parse.NumberNode:
		return idealConstant(n)
	case *parse.StringNode:
		return n.Text
	}
	fail("can't evaluate command %q", cmd.Args[0])
	return nil
}

func idealConstant(n *parse.NumberNode) any {
	switch {
	case n.IsFloat && strings.ContainsAny(n.Text, ".eEpP"):
		return n.Float64
	case n.IsInt:
		return int(n.Int64)
	}
	fail("%s overflows int", n.Text)
	return nil
}

func (s *state) evalChain(dot any, c *parse.ChainNode, args []parse.Node, hasFinal bool) any {
	if c.Node.Type() == parse.NodeNil {
		fail("indirection through explicit nil in %s", c)
	}
	recv := s.evalArg(dot, argUntyped, c.Node)
	return s.fieldChain(recv, c.Field, args, hasFinal)
}

func (s *state) evalVariable(dot any, v *parse.VariableNode, args []parse.Node, hasFinal bool) any {
	val := s.varValue(v.Ident[0])
	if len(v.Ident) == 1 {
		notAFunction(args, hasFinal)
		return val
	}
	return s.fieldChain(val, v.Ident[1:], args, hasFinal)
}

func (s *state) evalFieldChain(dot any, ident []string, args []parse.Node, hasFinal bool) any {
	return s.fieldChain(dot, ident, args, hasFinal)
}

func (s *state) fieldChain(recv any, ident []string, args []parse.Node, hasFinal bool) any {
	for _, name := range ident[:len(ident)-1] {
		recv = field(recv, name, nil, false)
	}
	return field(recv, ident[len(ident)-1], args, hasFinal)
}

func field(recv any, name string, args []parse.Node, hasFinal bool) any {
	switch r := recv.(type) {
	case noValue:
		return missing
	case nil:
		fail("nil pointer evaluating interface {}.%s", name)
	case map[string]any:
		if len(args) > 1 || hasFinal {
			fail("%s is not a method but has arguments", name)
		}
		if v, ok := r[name]; ok {
			return v
		}
		return missing
	}
	fail("can't evaluate field %s in type %T", name, recv)
	return nil
}

// argType is the Go type of a builtin's parameter, which decides how
// text/template converts an argument.
type argType uint8

const (
	argUntyped argType = iota // a chain's receiver
	argReflect                // reflect.Value (and, or, not, len, index, comparisons)
	argAny                    // interface{} (print, println, printf's values, jsonMarshal)
	argString                 // printf's format
)

func paramType(fn string, i int) argType {
	switch fn {
	case "print", "println", "jsonMarshal":
		return argAny
	case "printf":
		if i == 0 {
			return argString
		}
		return argAny
	}
	return argReflect
}

func (s *state) evalArg(dot any, typ argType, n parse.Node) any {
	switch n := n.(type) {
	case *parse.DotNode:
		return validate(dot, typ)
	case *parse.NilNode:
		switch typ {
		case argAny:
			return nil
		case argReflect:
			return missing
		}
		fail("cannot assign nil to %s", typ)
	case *parse.FieldNode:
		return validate(s.evalFieldChain(dot, n.Ident, []parse.Node{n}, false), typ)
	case *parse.VariableNode:
		return validate(s.evalVariable(dot, n, nil, false), typ)
	case *parse.PipeNode:
		return validate(s.evalPipeline(dot, n), typ)
	case *parse.IdentifierNode:
		return validate(s.evalFunction(dot, n.Ident, nil, nil, false), typ)
	case *parse.ChainNode:
		return validate(s.evalChain(dot, n, nil, false), typ)
	}
	switch typ {
	case argString:
		if n, ok := n.(*parse.StringNode); ok {
			return n.Text
		}
		fail("expected string; found %s", n)
	case argAny, argReflect:
		switch n := n.(type) {
		case *parse.BoolNode:
			return n.True
		case *parse.NumberNode:
			return idealConstant(n)
		case *parse.StringNode:
			return n.Text
		}
	}
	fail("can't handle %s for arg", n)
	return nil
}

func (t argType) String() string {
	switch t {
	case argReflect:
		return "reflect.Value"
	case argString:
		return "string"
	}
	return "interface {}"
}

// validate is text/template's validateType for the three parameter types.
func validate(v any, typ argType) any {
	switch typ {
	case argUntyped, argReflect:
		// A reflect.Value parameter takes an invalid value as it is.
	case argAny:
		if v == missing {
			return nil
		}
	case argString:
		switch v.(type) {
		case string:
		case noValue:
			fail("invalid value; expected string")
		default:
			fail("wrong type for value; expected string; got %T", v)
		}
	}
	return v
}

func (s *state) evalFunction(dot any, name string, args []parse.Node, final any, hasFinal bool) any {
	if args != nil {
		args = args[1:]
	}
	f := funcs[name]
	numIn := len(args)
	if hasFinal {
		numIn++
	}
	if f.variadic {
		if numIn < f.fixed {
			fail("wrong number of args for %s: want at least %d got %d", name, f.fixed, len(args))
		}
	} else if numIn != f.fixed {
		fail("wrong number of args for %s: want %d got %d", name, f.fixed, numIn)
	}
	if name == "and" || name == "or" {
		var v any
		for _, a := range args {
			v = s.evalArg(dot, argReflect, a)
			if truth(v) == (name == "or") {
				return v
			}
		}
		if hasFinal {
			v = validate(final, argReflect)
		}
		return v
	}
	argv := make([]any, numIn)
	for i, a := range args {
		argv[i] = s.evalArg(dot, paramType(name, i), a)
	}
	if hasFinal {
		argv[numIn-1] = validate(final, paramType(name, numIn-1))
	}
	v, err := call(name, argv)
	if err != nil {
		fail("error calling %s: %v", name, err)
	}
	return v
}

// truth is text/template's truth of a function argument.
func truth(v any) bool {
	t, _ := isTrue(v)
	return t
}

func call(name string, a []any) (any, error) {
	if paramType(name, 0) == argReflect {
		// text/template's builtins remove the interface of their
		// arguments: a null is then the invalid value, like missing.
		for i := range a {
			if a[i] == nil {
				a[i] = missing
			}
		}
	}
	switch name {
	case "not":
		return !truth(a[0]), nil
	case "len":
		return length(a[0])
	case "index":
		return index(a[0], a[1:])
	case "eq":
		return eq(a[0], a[1:])
	case "ne":
		b, err := eq(a[0], a[1:])
		return !b, err
	case "lt":
		return lt(a[0], a[1])
	case "le":
		if b, err := lt(a[0], a[1]); b || err != nil {
			return b, err
		}
		return eq(a[0], a[1:])
	case "gt":
		le, err := call("le", a)
		if err != nil {
			return false, err
		}
		return !le.(bool), nil
	case "ge":
		b, err := lt(a[0], a[1])
		return !b && err == nil, err
	case "print":
		return fmt.Sprint(a...), nil
	case "println":
		return fmt.Sprintln(a...), nil
	case "printf":
		return fmt.Sprintf(a[0].(string), a[1:]...), nil
	case "jsonMarshal":
		b, err := AppendJSON(nil, a[0])
		return string(b), err
	}
	return nil, fmt.Errorf("%q is not a defined function", name)
}

func length(v any) (any, error) {
	switch v := v.(type) {
	case noValue:
		return nil, fmt.Errorf("len of nil pointer")
	case map[string]any:
		return len(v), nil
	case []any:
		return len(v), nil
	case string:
		return len(v), nil
	}
	return nil, fmt.Errorf("len of type %T", v)
}

func index(item any, indexes []any) (any, error) {
	if item == missing {
		return nil, fmt.Errorf("index of untyped nil")
	}
	for _, ix := range indexes {
		switch it := item.(type) {
		case nil:
			return nil, fmt.Errorf("index of nil pointer")
		case []any:
			x, err := indexArg(ix, len(it))
			if err != nil {
				return nil, err
			}
			item = it[x]
		case string:
			x, err := indexArg(ix, len(it))
			if err != nil {
				return nil, err
			}
			item = it[x]
		case map[string]any:
			k, ok := ix.(string)
			if !ok {
				if ix == missing {
					return nil, fmt.Errorf("value is nil; should be of type string")
				}
				return nil, fmt.Errorf("value has type %T; should be string", ix)
			}
			item = it[k] // nil when absent: the map's zero value
		default:
			return nil, fmt.Errorf("can't index item of type %T", item)
		}
	}
	return item, nil
}

// indexArg: an index into a slice or string of length n. text/template
// accepts n itself, then indexing panics, which it reports as an error.
func indexArg(ix any, n int) (int, error) {
	var x int64
	switch v := ix.(type) {
	case int:
		x = int64(v)
	case uint8:
		x = int64(v)
	case noValue:
		return 0, fmt.Errorf("cannot index slice/array with nil")
	default:
		return 0, fmt.Errorf("cannot index slice/array with type %T", ix)
	}
	if x < 0 || x >= int64(n) {
		return 0, fmt.Errorf("index out of range: %d", x)
	}
	return int(x), nil
}

type kind uint8

const (
	invalidKind kind = iota
	boolKind
	intKind
	uintKind
	floatKind
	stringKind
)

func basicKind(v any) kind {
	switch v.(type) {
	case bool:
		return boolKind
	case int:
		return intKind
	case uint8:
		return uintKind
	case float64:
		return floatKind
	case string:
		return stringKind
	}
	return invalidKind
}

func typeName(v any) string {
	if v == missing {
		return "<nil>"
	}
	return fmt.Sprintf("%T", v)
}

func eq(a any, bs []any) (bool, error) {
	if len(bs) == 0 {
		return false, fmt.Errorf("missing argument for comparison")
	}
	k1 := basicKind(a)
	for _, b := range bs {
		k2 := basicKind(b)
		t := false
		switch {
		case k1 != k2:
			switch {
			case k1 == intKind && k2 == uintKind:
				t = a.(int) >= 0 && uint64(a.(int)) == uint64(b.(uint8))
			case k1 == uintKind && k2 == intKind:
				t = b.(int) >= 0 && uint64(a.(uint8)) == uint64(b.(int))
			default:
				if a != missing && b != missing {
					return false, fmt.Errorf("incompatible types for comparison: %s and %s", typeName(a), typeName(b))
				}
			}
		case k1 == invalidKind:
			// Maps, slices and nil.
			if !isNil(a) && !isNil(b) {
				if sameKind(a, b) {
					return false, fmt.Errorf("non-comparable type %s", typeName(b))
				}
				return false, fmt.Errorf("non-comparable types %s and %s", typeName(a), typeName(b))
			}
			t = isNil(a) == isNil(b)
		default:
			t = a == b
		}
		if t {
			return true, nil
		}
	}
	return false, nil
}

// isNil is text/template's isNil: the invalid value, or a nil map or
// slice (a session without meta_data).
func isNil(v any) bool {
	switch v := v.(type) {
	case noValue:
		return true
	case map[string]any:
		return v == nil
	case []any:
		return v == nil
	}
	return false
}

func sameKind(a, b any) bool {
	_, am := a.(map[string]any)
	_, bm := b.(map[string]any)
	return am == bm
}

func lt(a, b any) (bool, error) {
	k1, k2 := basicKind(a), basicKind(b)
	if k1 == invalidKind || k2 == invalidKind {
		return false, fmt.Errorf("invalid type for comparison")
	}
	if k1 != k2 {
		switch {
		case k1 == intKind && k2 == uintKind:
			return a.(int) < 0 || uint64(a.(int)) < uint64(b.(uint8)), nil
		case k1 == uintKind && k2 == intKind:
			return b.(int) >= 0 && uint64(a.(uint8)) < uint64(b.(int)), nil
		}
		return false, fmt.Errorf("incompatible types for comparison: %s and %s", typeName(a), typeName(b))
	}
	switch a := a.(type) {
	case bool:
		return false, fmt.Errorf("invalid type for comparison")
	case int:
		return a < b.(int), nil
	case uint8:
		return a < b.(uint8), nil
	case float64:
		return a < b.(float64), nil
	case string:
		return a < b.(string), nil
	}
	return false, fmt.Errorf("invalid type for comparison")
}
