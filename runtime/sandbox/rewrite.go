package sandbox

import (
	"slices"
	"strconv"

	"github.com/yuin/gopher-lua/ast"
)

// gopher-lua v1.1.2's compiler gets three things wrong that scripts
// write every day; rewriteChunk rewrites the syntax tree before it is
// compiled so that each compiles as Lua 5.1 runs it.
//
// An assignment to an existing local of an and/or expression whose
// deciding operand is no plain name keeps the local's old value
// (text = msg.text and msg.text:lower() left text as it was when
// msg.text was nil; yuin/gopher-lua#490): the value goes through a
// local of its own, do local (v) = e; text = (v) end.
//
// A loop whose body starts with if false (or nil) or while false jumps
// wrongly (the jump-to-jump pass reads a resolved jump as a label:
// wrong sums, or a Go panic; yuin/gopher-lua#540): such a branch, which
// can never run, is dropped before compilation (its else part stays, in
// a block of its own); so a mistake inside it that Lua's compiler
// refuses (a break outside a loop) goes unreported there.
//
// A multiple assignment to a local evaluates each value straight into
// its target's register, so a later value reads the target already
// assigned: x, y = y, x gives both x's new value, a, b = a + 1, a + b
// reads the new a (yuin/gopher-lua#440). Lua evaluates every value, and
// the tables and keys the targets index, before it assigns any. Each
// assignment of more than one value becomes a block that does exactly
// that with locals of its own:
//
//	a, t[k], o.f = e1, e2, e3
//
// becomes
//
//	do
//	  local (t1), (k1), (o1) = t, k, o   -- the targets' tables and keys
//	  local (v1), (v2), (v3) = e1, e2, e3 -- the values, extra ones too
//	  o1.f = v3; t1[k1] = v2; a = v1     -- right to left, as Lua 5.1
//	end
//
// The locals' names, in parentheses, are no identifier a script can write.

// maxFixedTargets bounds the targets and values an assignment may have to
// be rewritten: each is a local of the block, and a function has at most
// 200 (a larger assignment is left as it is).
const maxFixedTargets = 60

// rewriteChunk rewrites stmts, and every function they define, as the
// comments above say.
//
// With concat, each chain of .. becomes a call of (concat), the local
// that Compile gives the chunk (see wrapChunk), which concatenates as
// Lua 5.1 does with numbers written as Lua 5.1 writes them (%.14g:
// 0.1 + 0.2 .. "" is "0.3", where gopher-lua's VM wrote
// 0.30000000000000004) and __concat given the values themselves; the
// result reports whether a chain was rewritten.
func rewriteChunk(stmts []ast.Stmt, concat bool) (concats bool) {
	f := rewriter{concat: concat}
	f.block(stmts)
	return f.concats
}

type rewriter struct {
	n       int
	concat  bool // rewrite chains of .. into calls of (concat)
	concats bool // a chain was rewritten
}

// concatName is the local holding the chunk's concat function
// (concatFunction); no script can name it.
const concatName = "(concat)"

// concatChain returns a .. b .. c ..., a chain of right-associated
// concatenations (one CONCAT in Lua), as a call of (concat) with every
// operand, the last adjusted to one value as .. adjusts it; a
// parenthesised concatenation among them is a chain of its own.
func (f *rewriter) concatChain(e *ast.StringConcatOpExpr) ast.Expr {
	var ops []ast.Expr
	for {
		ops = append(ops, f.expr(e.Lhs))
		next, ok := e.Rhs.(*ast.StringConcatOpExpr)
		if !ok {
			break
		}
		e = next
	}
	last := f.expr(e.Rhs)
	switch x := last.(type) {
	case *ast.FuncCallExpr:
		x.AdjustRet = true
	case *ast.Comma3Expr:
		x.AdjustRet = true
	}
	ops = append(ops, last)
	f.concats = true
	fn := at(&ast.IdentExpr{Value: concatName}, e.Line(), e.Line())
	return at(&ast.FuncCallExpr{Func: fn, Args: ops, AdjustRet: true}, ops[0].Line(), last.LastLine())
}

// at gives n, a node the rewrite made, the lines of what it replaces.
func at[N ast.PositionHolder](n N, line, last int) N {
	n.SetLine(line)
	n.SetLastLine(last)
	return n
}

// wrapChunk returns the chunk stmts inside a function given concat:
// local (concat) = ...; return function(...) stmts end, the inner
// function defined at line 0, as a chunk is.
func wrapChunk(stmts []ast.Stmt) []ast.Stmt {
	arg := &ast.Comma3Expr{}
	local := &ast.LocalAssignStmt{Names: []string{concatName}, Exprs: []ast.Expr{arg}}
	chunk := &ast.FunctionExpr{ParList: &ast.ParList{HasVargs: true}, Stmts: stmts}
	last := 0
	if n := len(stmts); n > 0 {
		last = stmts[n-1].LastLine()
	}
	chunk.SetLastLine(last)
	ret := &ast.ReturnStmt{Exprs: []ast.Expr{chunk}}
	return []ast.Stmt{local, ret}
}

func (f *rewriter) block(stmts []ast.Stmt) {
	for i, st := range stmts {
		st = deadBranches(st)
		stmts[i] = st
		f.stmt(st)
		as, ok := st.(*ast.AssignStmt)
		switch {
		case !ok:
		case len(as.Rhs) > 1 && len(as.Lhs)+len(as.Rhs) <= 2*maxFixedTargets:
			stmts[i] = f.viaLocals(as)
		case len(as.Rhs) == 1 && isLogical(as.Rhs[0]) && slices.ContainsFunc(as.Lhs, isName):
			stmts[i] = f.viaLocal(as)
		}
	}
}

func isName(e ast.Expr) bool { _, ok := e.(*ast.IdentExpr); return ok }

func isLogical(e ast.Expr) bool { _, ok := e.(*ast.LogicalOpExpr); return ok }

// isFalse reports a condition that is the literal false or nil.
func isFalse(e ast.Expr) bool {
	switch e.(type) {
	case *ast.FalseExpr, *ast.NilExpr:
		return true
	}
	return false
}

// deadBranches returns st without the branches that can never run: if
// false/nil then A else B end becomes do B end (an elseif chain keeps
// its other branches), while false/nil do A end an empty block.
func deadBranches(st ast.Stmt) ast.Stmt {
	switch x := st.(type) {
	case *ast.IfStmt:
		if !isFalse(x.Condition) {
			return st
		}
		return at(&ast.DoBlockStmt{Stmts: x.Else}, x.Line(), x.LastLine()) // its statements are fixed as the block's
	case *ast.WhileStmt:
		if !isFalse(x.Condition) {
			return st
		}
		return at(&ast.DoBlockStmt{}, x.Line(), x.LastLine())
	}
	return st
}

// viaLocal rewrites x [, ...] = e, an and/or expression, into do local
// (v) = e; x [, ...] = (v) end.
func (f *rewriter) viaLocal(as *ast.AssignStmt) ast.Stmt {
	line, last := as.Line(), as.LastLine()
	name, id := f.temp(line)
	val := at(&ast.LocalAssignStmt{Names: []string{name}, Exprs: as.Rhs}, line, last)
	set := at(&ast.AssignStmt{Lhs: as.Lhs, Rhs: []ast.Expr{id}}, line, last)
	return at(&ast.DoBlockStmt{Stmts: []ast.Stmt{val, set}}, line, last)
}

// temp returns a new local's name and an expression reading it.
func (f *rewriter) temp(line int) (string, *ast.IdentExpr) {
	f.n++
	name := "(assign " + strconv.Itoa(f.n) + ")"
	return name, at(&ast.IdentExpr{Value: name}, line, line)
}

func (f *rewriter) viaLocals(as *ast.AssignStmt) ast.Stmt {
	line, last := as.Line(), as.LastLine()
	prefix := &ast.LocalAssignStmt{}
	targets := make([]ast.Expr, len(as.Lhs))
	for i, lhs := range as.Lhs {
		ag, ok := lhs.(*ast.AttrGetExpr)
		if !ok {
			targets[i] = lhs // a name: nothing to evaluate first
			continue
		}
		name, obj := f.temp(line)
		prefix.Names, prefix.Exprs = append(prefix.Names, name), append(prefix.Exprs, ag.Object)
		key := ag.Key
		if !constantKey(key) {
			kname, kid := f.temp(line)
			prefix.Names, prefix.Exprs = append(prefix.Names, kname), append(prefix.Exprs, key)
			key = kid
		}
		targets[i] = at(&ast.AttrGetExpr{Object: obj, Key: key}, ag.Line(), ag.LastLine())
	}
	values := &ast.LocalAssignStmt{Exprs: as.Rhs}
	reads := make([]ast.Expr, len(as.Lhs))
	for i := range as.Lhs {
		name, id := f.temp(line)
		values.Names = append(values.Names, name)
		reads[i] = id
	}
	block := &ast.DoBlockStmt{}
	for _, st := range []*ast.LocalAssignStmt{prefix, values} {
		if len(st.Names) > 0 {
			block.Stmts = append(block.Stmts, at(st, line, last))
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		st := &ast.AssignStmt{Lhs: []ast.Expr{targets[i]}, Rhs: []ast.Expr{reads[i]}}
		block.Stmts = append(block.Stmts, at(st, as.Lhs[i].Line(), last))
	}
	return at(block, line, last)
}

// constantKey reports whether a target's key needs no evaluation first.
func constantKey(e ast.Expr) bool {
	switch e.(type) {
	case *ast.StringExpr, *ast.NumberExpr, *ast.TrueExpr, *ast.FalseExpr, *ast.NilExpr:
		return true
	}
	return false
}

func (f *rewriter) stmt(st ast.Stmt) {
	switch st := st.(type) {
	case *ast.AssignStmt:
		f.exprs(st.Lhs)
		f.exprs(st.Rhs)
	case *ast.LocalAssignStmt:
		f.exprs(st.Exprs)
	case *ast.FuncCallStmt:
		f.expr(st.Expr) // a call stays a call
	case *ast.DoBlockStmt:
		f.block(st.Stmts)
	case *ast.WhileStmt:
		st.Condition = f.expr(st.Condition)
		f.block(st.Stmts)
	case *ast.RepeatStmt:
		f.block(st.Stmts)
		st.Condition = f.expr(st.Condition)
	case *ast.IfStmt:
		st.Condition = f.expr(st.Condition)
		f.block(st.Then)
		f.block(st.Else)
	case *ast.NumberForStmt:
		st.Init, st.Limit, st.Step = f.expr(st.Init), f.expr(st.Limit), f.expr(st.Step)
		f.block(st.Stmts)
	case *ast.GenericForStmt:
		f.exprs(st.Exprs)
		f.block(st.Stmts)
	case *ast.FuncDefStmt:
		f.expr(st.Func)
	case *ast.ReturnStmt:
		f.exprs(st.Exprs)
	}
}

// exprs rewrites es in place.
func (f *rewriter) exprs(es []ast.Expr) {
	for i, e := range es {
		es[i] = f.expr(e)
	}
}

// expr rewrites e's subexpressions and returns e, or what replaces it (a
// chain of .., a call of (concat)).
func (f *rewriter) expr(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case *ast.FunctionExpr:
		f.block(e.Stmts)
	case *ast.AttrGetExpr:
		e.Object, e.Key = f.expr(e.Object), f.expr(e.Key)
	case *ast.TableExpr:
		for _, fl := range e.Fields {
			fl.Key, fl.Value = f.expr(fl.Key), f.expr(fl.Value)
		}
	case *ast.FuncCallExpr:
		e.Func, e.Receiver = f.expr(e.Func), f.expr(e.Receiver)
		f.exprs(e.Args)
	case *ast.LogicalOpExpr:
		e.Lhs, e.Rhs = f.expr(e.Lhs), f.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		e.Lhs, e.Rhs = f.expr(e.Lhs), f.expr(e.Rhs)
	case *ast.StringConcatOpExpr:
		if f.concat {
			return f.concatChain(e)
		}
		e.Lhs, e.Rhs = f.expr(e.Lhs), f.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		e.Lhs, e.Rhs = f.expr(e.Lhs), f.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		e.Expr = f.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		e.Expr = f.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		e.Expr = f.expr(e.Expr)
	case nil:
		return nil
	}
	return e
}
