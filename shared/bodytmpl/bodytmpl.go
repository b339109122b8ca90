// Package bodytmpl runs Tyk's body transform templates (the version's
// extended_paths.transform and transform_response entries) on JSON bodies,
// producing what Tyk's gateway produces with Go's text/template, without
// linking text/template: that package reaches every method of every type
// through reflection (MethodByName), which costs the filter 3.1 MB of
// module and 1.5 MiB of linear memory per VM. The syntax is parsed by
// text/template/parse (the same parser, so the same trees); execution is
// this package's, over the only values a decoded JSON body holds
// (map[string]any, []any, string, float64, bool, nil) and the template's
// constants.
//
// Parse refuses, with an error naming it, any construct whose execution
// this package does not reproduce: functions other than the builtins and,
// or, not, len, index, eq, ne, lt, le, gt, ge, print, printf, println and
// Tyk's jsonMarshal (sprig's, xmlMarshal, html, js, urlquery, slice,
// call), {{template}}, {{define}} and {{block}}, and number literals that
// are not plain decimal. The tests run every supported construct through
// both this package and text/template and compare output and errors.
package bodytmpl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"
)

// Template is a parsed body template, safe for concurrent Execute.
type Template struct {
	root *parse.ListNode
}

// funcs are the functions Execute implements, with their arity: fixed
// parameters, and whether more may follow.
var funcs = map[string]struct {
	fixed    int
	variadic bool
}{
	"and": {1, true}, "or": {1, true}, "not": {1, false}, "len": {1, false},
	"index": {1, true}, "eq": {1, true}, "ne": {2, false}, "lt": {2, false},
	"le": {2, false}, "gt": {2, false}, "ge": {2, false},
	"print": {0, true}, "printf": {1, true}, "println": {0, true},
	"jsonMarshal": {1, false},
}

// known are the other functions a Tyk template may name: text/template's
// remaining builtins, Tyk's xmlMarshal and sprig's generic functions.
// Naming one is refused with a message saying so.
var known = map[string]string{
	"call": "builtin", "html": "builtin", "js": "builtin", "urlquery": "builtin", "slice": "builtin",
	"xmlMarshal": "Tyk",
}

// ErrUnsupported wraps every refusal of a construct Execute does not
// implement (as opposed to a template that does not parse at all).
var ErrUnsupported = errors.New("unsupported template")

// Parse parses a template's source (already base64-decoded). The error
// says why a template cannot run: a syntax error, or a construct this
// package does not reproduce (errors.Is(err, ErrUnsupported)).
func Parse(src string) (*Template, error) {
	// Functions are checked below, so that a refusal names the function
	// (the parser's own check would only say it is not defined).
	t := parse.New("transform")
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(src, "", "", trees); err != nil {
		return nil, err
	}
	if len(trees) > 1 || len(trees) == 1 && trees["transform"] == nil {
		return nil, unsupported("{{define}} and {{block}} are")
	}
	if err := check(t.Root); err != nil {
		return nil, err
	}
	return &Template{root: t.Root}, nil
}

func unsupported(what string) error {
	return fmt.Errorf("%w: %s not supported", ErrUnsupported, what)
}

// check walks the tree and refuses what Execute does not implement.
func check(n parse.Node) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := check(c); err != nil {
				return err
			}
		}
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode,
		*parse.DotNode, *parse.NilNode, *parse.BoolNode, *parse.StringNode,
		*parse.FieldNode, *parse.VariableNode:
	case *parse.ActionNode:
		return check(n.Pipe)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode)
	case *parse.RangeNode:
		return checkBranch(&n.BranchNode)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := check(c); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := check(a); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return check(n.Node)
	case *parse.IdentifierNode:
		if _, ok := funcs[n.Ident]; ok {
			return nil
		}
		if from, ok := known[n.Ident]; ok {
			return unsupported("the " + from + " function " + strconv.Quote(n.Ident) + " is")
		}
		return unsupported("the function " + strconv.Quote(n.Ident) + " (sprig's functions) is")
	case *parse.NumberNode:
		t := strings.TrimLeft(n.Text, "+-")
		if n.IsComplex && !n.IsFloat || strings.HasPrefix(t, "'") || strings.HasPrefix(t, "0x") ||
			strings.HasPrefix(t, "0X") || strings.HasPrefix(t, "0b") || strings.HasPrefix(t, "0B") ||
			strings.HasPrefix(t, "0o") || strings.HasPrefix(t, "0O") || strings.HasSuffix(t, "i") {
			return unsupported("the number " + n.Text + " (only decimal numbers are)")
		}
	case *parse.TemplateNode:
		return unsupported("{{template}} is")
	default:
		return unsupported("the construct " + strconv.Quote(n.String()) + " is")
	}
	return nil
}

func checkBranch(b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := check(n); err != nil {
			return err
		}
	}
	return nil
}
