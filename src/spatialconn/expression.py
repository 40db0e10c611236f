"""The kernel expression language: parse once, compile to bytecode, evaluate and bound.

An expression is a formula in the displacement ``x = target - source``
(minimum image on periodic axes): ``d`` (its length), ``dx``, ``dy``,
``dz`` (its components; absent components are 0) and named parameters,
e.g. ``"exp(-d**2 / (2*s**2)) * (1 + cos(2*atan2(dy, dx)))"``.

Grammar (a subset of Python's expression syntax, checked node by node)::

    expr   := number | name | expr OP expr | -expr | +expr | not expr
            | expr CMP expr [CMP expr ...] | expr and expr | expr or expr
            | FUNC(expr, ...) | (expr)
    OP     := + - * / **
    CMP    := < <= > >= == !=                (1.0 when true, else 0.0)
    FUNC   := exp log sqrt abs sin cos tan atan (= arctan) atan2(y, x)
              min(a, b, ...) max(a, b, ...) where(c, a, b) clip(x, lo, hi)
              floor ceil int (truncation, as Brian2's int)
    name   := d dx dy dz pi e inf | a parameter

Anything else (attributes, subscripts, keyword arguments, unknown names or
functions) is a ``ValueError`` naming the token and its column.

The engine's form
-----------------
:func:`compile_expression` turns the text into a :class:`Program`: a flat
postfix bytecode for a stack machine, ``code`` (``int32``, shape ``(n, 2)``:
opcode and operand per instruction) and ``consts`` (``float64``). Operands
are the index into ``consts`` (``CONST``) or the variable (``VAR``: 0 ``d``,
1 ``dx``, 2 ``dy``, 3 ``dz``); other instructions pop their arguments and
push one result. ``depth`` is the largest stack size, so a compiled loop
can use a fixed array. Two programs are compiled per expression:

Opcodes (:data:`OPCODES`, in this order from 0; ``a``, ``b``, ``c`` are
popped in push order, NaN in any argument gives NaN)::

    0 CONST k  push consts[k]         1 VAR v  push d, dx, dy or dz (v = 0..3)
    2 NEG  -a     3 ADD a+b    4 SUB a-b    5 MUL a*b    6 DIV a/b    7 POW a**b
    8 EXP  9 LOG  10 SQRT  11 ABS  12 SIN  13 COS  14 TAN  15 ATAN       (of a)
    16 ATAN2 atan2(a, b) (signed zeros as +0)    17 MIN  18 MAX  (of a, b)
    19 WHERE  b if a != 0 else c
    20 LT  21 LE  22 GT  23 GE  24 EQ  25 NE   a ? b, as 1.0 or 0.0
    26 AND  27 OR  (a != 0 ? b != 0, as 1.0 or 0.0)   28 NOT  (a == 0)
    29 FLOOR  30 CEIL  31 TRUNC  (of a)          32 LOGCLIP  log(max(a, 0))

Two programs are compiled per expression:

* ``value``: the expression itself;
* ``log``: ``log max(K, 0)``, computed in log space where that is exact:
  ``exp(a)`` becomes ``a``, products and quotients with a positive factor
  become sums and differences of logs, ``where`` passes into its branches;
  anything else ends in ``LOGCLIP`` (``log max(v, 0)``). So
  ``exp(-d**2/(2*s**2))`` gives ``-d**2/(2*s**2)`` without underflow.

The same bytecode has two interpreters here: :meth:`Program.evaluate`
(vectorised numpy, the reference) and :meth:`Program.bounds` (interval
arithmetic over boxes of ``(d, dx, dy, dz)`` ranges, sound: every value of
the expression at a point of the box lies within the bounds, despite
rounding). The grid engine's compiled core runs the same bytecode per pair
(``engine/_core/expr.hpp``, same NaN rules) and takes the bounds of its
cell offsets from :meth:`Program.bounds`.

Negative values are clipped to 0 (as Brian2 treats ``p < 0``). An invalid
operation (``log`` or ``sqrt`` of a negative number, ``0/0``, ``inf - inf``)
gives NaN, which every operation passes on (comparisons and ``where``
included), and a NaN weight is an error (see :class:`spatialconn.Expression`);
so the bounds need only hold where the value is not NaN.

Examples
--------
>>> prog = compile_expression("exp(-d**2 / (2*s**2))", {"s": 0.5})
>>> prog.log.evaluate(d=np.array([0.0, 1.0])).tolist()
[-0.0, -2.0]
>>> lo, hi = prog.log.bounds({"d": (np.array([1.0]), np.array([2.0]))})
>>> float(hi[0])  # doctest: +ELLIPSIS
-1.99999...
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["FUNCTIONS", "OPCODES", "VARIABLES", "Compiled", "Program", "check_dimensions", "compile_expression"]

#: displacement variables, by operand number of ``VAR``
VARIABLES = ("d", "dx", "dy", "dz")
#: named constants of the language
CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "True": 1.0, "False": 0.0}

_OPS = ["CONST", "VAR", "NEG", "ADD", "SUB", "MUL", "DIV", "POW", "EXP", "LOG", "SQRT", "ABS",
        "SIN", "COS", "TAN", "ATAN", "ATAN2", "MIN", "MAX", "WHERE", "LT", "LE", "GT", "GE", "EQ",
        "NE", "AND", "OR", "NOT", "FLOOR", "CEIL", "TRUNC", "LOGCLIP"]
#: opcode of each instruction name
OPCODES = {name: i for i, name in enumerate(_OPS)}

#: functions: name -> (opcode, number of arguments; None = two or more, folded pairwise)
FUNCTIONS = {
    "exp": ("EXP", 1), "log": ("LOG", 1), "sqrt": ("SQRT", 1), "abs": ("ABS", 1),
    "sin": ("SIN", 1), "cos": ("COS", 1), "tan": ("TAN", 1), "atan": ("ATAN", 1),
    "arctan": ("ATAN", 1), "atan2": ("ATAN2", 2), "min": ("MIN", None), "max": ("MAX", None),
    "where": ("WHERE", 3), "clip": (None, 3), "floor": ("FLOOR", 1), "ceil": ("CEIL", 1),
    "int": ("TRUNC", 1),
}
_BINOPS = {ast.Add: "ADD", ast.Sub: "SUB", ast.Mult: "MUL", ast.Div: "DIV", ast.Pow: "POW"}
_CMPOPS = {ast.Lt: "LT", ast.LtE: "LE", ast.Gt: "GT", ast.GtE: "GE", ast.Eq: "EQ", ast.NotEq: "NE"}
_ARITY = {"CONST": 0, "VAR": 0, "NEG": 1, "EXP": 1, "LOG": 1, "SQRT": 1, "ABS": 1, "SIN": 1, "COS": 1,
          "TAN": 1, "ATAN": 1, "NOT": 1, "FLOOR": 1, "CEIL": 1, "TRUNC": 1, "LOGCLIP": 1, "WHERE": 3}
#: relative widening of computed interval ends (covers libm rounding of a few ulp)
SLACK = 1e-13


def _error(node, text: str, what: str) -> ValueError:
    col = getattr(node, "col_offset", 0)
    token = ast.get_source_segment(text, node) or type(node).__name__
    return ValueError(f"expression {text!r}: {what} {token!r} at column {col + 1}")


def parse(text: str, parameters) -> ast.AST:
    """Parse ``text`` and check every node against the grammar (module docstring).

    Returns the expression's AST; ``ValueError`` names the first token that
    is not allowed, with its (1-based) column.

    Examples
    --------
    >>> parse("foo(d)", {})
    Traceback (most recent call last):
    ...
    ValueError: expression 'foo(d)': unknown function 'foo' at column 1
    """
    if not isinstance(text, str):
        raise TypeError(f"the expression must be a string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"expression {text!r} is not valid syntax: {exc.msg} at column {exc.offset}") from None
    text = text.strip()
    for node in ast.walk(tree.body):
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else None
            if fname not in FUNCTIONS:
                raise _error(node.func, text, "unknown function")
            if node.keywords:
                raise _error(node.keywords[0].value, text, "keyword arguments are not allowed:")
            n = FUNCTIONS[fname][1]
            if (n is None and len(node.args) < 2) or (n is not None and len(node.args) != n):
                want = "at least 2" if n is None else str(n)
                raise _error(node, text, f"{fname} takes {want} arguments, not {len(node.args)}, in")
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS and not _is_callee(tree.body, node):
                raise _error(node, text, "function used as a value:")
            if node.id not in VARIABLES and node.id not in CONSTANTS and node.id not in parameters \
                    and node.id not in FUNCTIONS:
                raise _error(node, text, "unknown name (not d, dx, dy, dz or a parameter)")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)):
                raise _error(node, text, "only numbers are allowed, not")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise _error(node, text, f"operator {type(node.op).__name__} is not allowed in")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
                raise _error(node, text, f"operator {type(node.op).__name__} is not allowed in")
        elif isinstance(node, ast.Compare):
            if any(type(op) not in _CMPOPS for op in node.ops):
                raise _error(node, text, "only < <= > >= == != are allowed in")
        elif not isinstance(node, (ast.BoolOp, ast.And, ast.Or, ast.Load) + tuple(_BINOPS)
                            + tuple(_CMPOPS) + (ast.USub, ast.UAdd, ast.Not)):
            raise _error(node, text, "not allowed:")
    return tree.body


def _is_callee(root, name_node) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name_node for n in ast.walk(root))


@dataclass(frozen=True)
class Program:
    """Postfix bytecode of one expression (the engine's form, module docstring).

    Attributes
    ----------
    code : (n, 2) int32
        ``(opcode, operand)`` per instruction; opcodes in :data:`OPCODES`.
    consts : (m,) float64
    depth : int
        Largest stack size during evaluation.
    """

    code: np.ndarray
    consts: np.ndarray
    depth: int

    @property
    def variables(self) -> frozenset:
        """Names of the displacement variables the program reads."""
        return frozenset(VARIABLES[a] for op, a in self.code if op == OPCODES["VAR"])

    def _run(self, env: list, constant, apply):
        """Run the stack machine: ``constant(c)`` pushes a constant, ``env[i]`` a variable,
        ``apply(name, args)`` an operation (shared by the point and interval interpreters)."""
        stack: list = []
        with np.errstate(all="ignore"):
            for op, arg in self.code:
                name = _OPS[op]
                if name == "CONST":
                    stack.append(constant(np.float64(self.consts[arg])))
                elif name == "VAR":
                    stack.append(env[arg])
                else:
                    n = _ARITY.get(name, 2)
                    args = stack[len(stack) - n:]
                    del stack[len(stack) - n:]
                    stack.append(apply(name, args))
        return stack.pop()

    def evaluate(self, d=0.0, dx=0.0, dy=0.0, dz=0.0) -> np.ndarray:
        """Value at the given (broadcast) variables; vectorised numpy, the reference interpreter."""
        env = [np.asarray(v, dtype=np.float64) for v in (d, dx, dy, dz)]
        value = self._run(env, lambda c: c, lambda name, args: _POINT[name](*args))
        out = np.asarray(value, dtype=np.float64)
        shape = np.broadcast_shapes(*(np.shape(v) for v in env))
        if out.shape != shape or any(np.shares_memory(out, v) for v in env):  # never a view of an input
            out = np.broadcast_to(out, shape).copy()
        return out

    def bounds(self, box: dict):
        """Sound ``(lower, upper)`` of the value over boxes of variable ranges.

        ``box`` maps variable names to ``(lo, hi)`` arrays (broadcast
        together); a missing variable is the point 0. Every value of the
        expression at a point of a box lies in ``[lower, upper]``, or is NaN.
        """
        env = []
        for v in VARIABLES:
            lo, hi = box.get(v, (0.0, 0.0))
            env.append((np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)))

        def apply(name, args):
            lo, hi = _INTERVAL[name](*args)
            lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
            if name not in _EXACT:
                lo = np.where(np.isfinite(lo), lo - np.abs(lo) * SLACK, lo)
                hi = np.where(np.isfinite(hi), hi + np.abs(hi) * SLACK, hi)
            return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)

        lo, hi = self._run(env, lambda c: (c, c), apply)
        shape = np.broadcast_shapes(*(np.shape(a) for pair in env for a in pair))
        return np.broadcast_to(lo, shape).astype(np.float64), np.broadcast_to(hi, shape).astype(np.float64)


@dataclass(frozen=True)
class Compiled:
    """The two programs of an expression: ``value`` (``K``) and ``log`` (``log max(K, 0)``)."""

    value: Program
    log: Program

    @property
    def variables(self) -> frozenset:
        return self.value.variables


def compile_expression(text: str, parameters: dict) -> Compiled:
    """Parse ``text`` and compile it with the parameters' values folded in as constants.

    ``parameters`` maps names to numbers (SI magnitudes; units are checked
    elsewhere). Raises ``ValueError`` for anything outside the grammar.

    Examples
    --------
    >>> c = compile_expression("where(d < r, 1, 0.2)", {"r": 0.1})
    >>> c.value.evaluate(d=np.array([0.05, 0.2])).tolist()
    [1.0, 0.2]
    >>> sorted(c.variables)
    ['d']
    """
    for name in parameters:
        if name in VARIABLES or name in CONSTANTS or name in FUNCTIONS:
            raise ValueError(f"parameter name {name!r} is reserved (variables d, dx, dy, dz; constants "
                             "pi, e, inf; and the function names)")
        if not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not an identifier")
    values = {k: float(np.asarray(v, dtype=np.float64)) for k, v in parameters.items()}
    tree = parse(text, values)
    c = _Compiler(values)
    c.emit(tree)
    value = c.program()
    c = _Compiler(values)
    c.emit_log(tree)
    return Compiled(value=value, log=c.program())


class _Compiler:
    def __init__(self, params):
        self.params = params
        self.code: list = []
        self.consts: list = []
        self.depth = self.max_depth = 0

    def program(self) -> Program:
        return Program(np.asarray(self.code, dtype=np.int32).reshape(-1, 2),
                       np.asarray(self.consts, dtype=np.float64), self.max_depth)

    def op(self, name, arg=0):
        self.code.append((OPCODES[name], arg))
        self.depth += 1 - _ARITY.get(name, 2)
        self.max_depth = max(self.max_depth, self.depth)

    def const(self, value):
        self.consts.append(float(value))
        self.op("CONST", len(self.consts) - 1)

    def constant_value(self, node):
        """The value of a literal, named constant or parameter, else None."""
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if isinstance(node, ast.Name) and node.id in self.params:
            return self.params[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.constant_value(node.operand)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        return None

    def folded(self, node):
        """The value of a subtree without displacement variables (folded at compile time), else None."""
        v = self.constant_value(node)
        if v is not None or any(isinstance(n, ast.Name) and n.id in VARIABLES for n in ast.walk(node)):
            return v
        sub = _Compiler(self.params)
        sub.emit(node, fold=False)
        return float(sub.program().evaluate())

    def emit(self, node, fold=True):
        v = self.folded(node) if fold else self.constant_value(node)
        if v is not None:
            self.const(v)
        elif isinstance(node, ast.Name):
            self.op("VAR", VARIABLES.index(node.id))
        elif isinstance(node, ast.BinOp):
            self.emit(node.left)
            self.emit(node.right)
            self.op(_BINOPS[type(node.op)])
        elif isinstance(node, ast.UnaryOp):
            self.emit(node.operand)
            if isinstance(node.op, ast.USub):
                self.op("NEG")
            elif isinstance(node.op, ast.Not):
                self.op("NOT")
        elif isinstance(node, ast.Compare):
            left = node.left
            for i, (cmp, right) in enumerate(zip(node.ops, node.comparators)):
                self.emit(left)
                self.emit(right)
                self.op(_CMPOPS[type(cmp)])
                if i:
                    self.op("AND")
                left = right
        elif isinstance(node, ast.BoolOp):
            self.emit(node.values[0])
            for v in node.values[1:]:
                self.emit(v)
                self.op("AND" if isinstance(node.op, ast.And) else "OR")
        elif isinstance(node, ast.Call):
            fname = node.func.id
            opname, n = FUNCTIONS[fname]
            if fname == "clip":
                self.emit(node.args[0])
                self.emit(node.args[1])
                self.op("MAX")
                self.emit(node.args[2])
                self.op("MIN")
            elif n is None:
                self.emit(node.args[0])
                for a in node.args[1:]:
                    self.emit(a)
                    self.op(opname)
            else:
                for a in node.args:
                    self.emit(a)
                self.op(opname)
        else:  # pragma: no cover - parse() admits nothing else
            raise TypeError(type(node).__name__)

    def positive(self, node) -> bool:
        """Provably > 0 wherever defined (so its log may be taken in log space)."""
        v = self.folded(node)
        if v is not None:
            return v > 0
        if isinstance(node, ast.Call):
            f = node.func.id
            if f == "exp":
                return True
            if f == "sqrt":
                return self.positive(node.args[0])
            if f == "where":
                return self.positive(node.args[1]) and self.positive(node.args[2])
            return False
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Mult, ast.Div)):
                return self.positive(node.left) and self.positive(node.right)
            if isinstance(node.op, ast.Pow):
                return self.positive(node.left)
        return False

    def emit_log(self, node):
        """Emit ``log max(node, 0)``, in log space where exact."""
        v = self.folded(node)
        if v is not None:
            self.const(math.log(v) if v > 0 else -math.inf)
            return
        if isinstance(node, ast.Call) and node.func.id == "exp":
            self.emit(node.args[0])
            return
        if isinstance(node, ast.Call) and node.func.id == "where":
            self.emit(node.args[0])
            self.emit_log(node.args[1])
            self.emit_log(node.args[2])
            self.op("WHERE")
            return
        if isinstance(node, ast.Call) and node.func.id == "sqrt" and self.positive(node.args[0]):
            self.emit_log(node.args[0])
            self.const(0.5)
            self.op("MUL")
            return
        if isinstance(node, ast.BinOp):
            # max(a*b, 0) = a * max(b, 0) when a > 0; likewise for b / a
            if isinstance(node.op, ast.Mult) and (self.positive(node.left) or self.positive(node.right)):
                self.emit_log(node.left)
                self.emit_log(node.right)
                self.op("ADD")
                return
            if isinstance(node.op, ast.Div) and self.positive(node.right):
                self.emit_log(node.left)
                self.emit_log(node.right)
                self.op("SUB")
                return
            if isinstance(node.op, ast.Pow) and self.positive(node.left):
                self.emit(node.right)
                self.emit_log(node.left)
                self.op("MUL")
                return
        self.emit(node)
        self.op("LOGCLIP")


# -- dimensions ----------------------------------------------------------------------------
_ANY = "any"  # the literals 0 and inf, which fit every dimension


def check_dimensions(text: str, parameters: dict, length_dim) -> None:
    """Check that ``text`` is dimensionless when ``d, dx, dy, dz`` have dimension ``length_dim``.

    ``parameters`` may hold quantities (objects with a ``dim``, e.g. Brian2's);
    ``length_dim`` is ``None`` for plain numbers. Raises ``ValueError``
    naming the offending part and the dimensions, like Brian2 does.

    Examples
    --------
    >>> check_dimensions("exp(-d/s)", {"s": 2.0}, None)
    >>> check_dimensions("d + 1", {}, None)
    """
    def dim(value):
        out = getattr(value, "dim", None)
        return None if out is None or getattr(out, "is_dimensionless", False) else out

    pdims = {k: dim(v) for k, v in parameters.items()}
    if length_dim is None and all(v is None for v in pdims.values()):
        return
    plain_params = {k: float(np.asarray(v, dtype=np.float64)) for k, v in parameters.items()}
    tree = parse(text, plain_params)
    text = text.strip()

    def norm(x):
        return None if x is None or getattr(x, "is_dimensionless", False) else x

    def show(x):
        return "dimensionless" if x is None else f"'{x}'"

    def same(node, dims):
        known = [x for x in dims if x is not _ANY]
        for x in known[1:]:
            if x != known[0]:
                raise _error(node, text, f"dimensions {show(known[0])} and {show(x)} do not match in")
        return known[0] if known else _ANY

    def plainly(node, x):
        if x not in (None, _ANY):
            raise _error(node, text, f"needs a dimensionless argument, got {show(x)}, in")

    def mul(a, b, inverse=False):
        a = None if a is _ANY else a
        b = None if b is _ANY else b
        if b is None:
            return a
        if a is None:
            return norm(b ** -1) if inverse else b
        return norm(a / b if inverse else a * b)

    def walk(node):
        if isinstance(node, ast.Constant):
            return _ANY if float(node.value) == 0 else None
        if isinstance(node, ast.Name):
            if node.id in VARIABLES:
                return length_dim
            if node.id == "inf":
                return _ANY
            return pdims.get(node.id)
        if isinstance(node, ast.UnaryOp):
            x = walk(node.operand)
            return None if isinstance(node.op, ast.Not) else x
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, (ast.Add, ast.Sub)):
                return same(node, [a, b])
            if isinstance(node.op, (ast.Mult, ast.Div)):
                return mul(a, b, inverse=isinstance(node.op, ast.Div))
            plainly(node.right, b)
            if a in (None, _ANY):
                return a
            p = _Compiler(plain_params).folded(node.right)
            if p is None:
                raise _error(node.right, text, "the power of a quantity with a unit must be a constant, not")
            return norm(a ** p)
        if isinstance(node, ast.Compare):
            same(node, [walk(node.left)] + [walk(c) for c in node.comparators])
            return None
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                walk(v)
            return None
        f = node.func.id
        args = [walk(a) for a in node.args]
        if f in ("exp", "log", "sin", "cos", "tan", "atan", "arctan"):
            return plainly(node, args[0])
        if f == "sqrt":
            return args[0] if args[0] in (None, _ANY) else norm(args[0] ** 0.5)
        if f in ("abs", "floor", "ceil", "int"):
            return args[0]
        if f == "atan2":
            same(node, args)
            return None
        if f == "where":
            return same(node, args[1:])
        return same(node, args)

    out = walk(tree)
    if out not in (None, _ANY):
        raise ValueError(f"expression {text!r} has dimension {show(out)} (d, dx, dy, dz have the positions' "
                         f"dimension {show(length_dim)}); a kernel must be dimensionless")


# -- pointwise interpreter ---------------------------------------------------------------
def _flt(x):
    return np.asarray(x, dtype=np.float64)


def _nan_through(f):
    """``f`` with NaN in any argument giving NaN (an invalid operation is never absorbed)."""
    def g(*args):
        args = [_flt(a) for a in args]
        out = _flt(f(*args))
        bad = np.zeros(np.shape(out), dtype=bool)
        for a in args:
            bad = bad | np.isnan(a)
        return np.where(bad, np.nan, out)
    return g


_POINT = {
    "NEG": np.negative, "ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide,
    "POW": _nan_through(np.power), "EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt, "ABS": np.abs,
    "SIN": np.sin, "COS": np.cos, "TAN": np.tan, "ATAN": np.arctan,
    "ATAN2": lambda y, x: np.arctan2(_flt(y) + 0.0, _flt(x) + 0.0),
    "MIN": np.minimum, "MAX": np.maximum,
    "WHERE": lambda c, a, b: np.where(np.isnan(c), np.nan, np.where(_flt(c) != 0, a, b)),
    "LT": _nan_through(np.less), "LE": _nan_through(np.less_equal), "GT": _nan_through(np.greater),
    "GE": _nan_through(np.greater_equal), "EQ": _nan_through(np.equal), "NE": _nan_through(np.not_equal),
    "AND": _nan_through(lambda a, b: (a != 0) & (b != 0)),
    "OR": _nan_through(lambda a, b: (a != 0) | (b != 0)),
    "NOT": _nan_through(lambda a: a == 0), "FLOOR": np.floor, "CEIL": np.ceil, "TRUNC": np.trunc,
    "LOGCLIP": lambda a: np.log(np.maximum(a, 0.0)),
}


# -- interval interpreter (sound bounds) ----------------------------------------------------
#: results that are exact (no rounding to widen)
_EXACT = {"NEG", "ABS", "MIN", "MAX", "WHERE", "LT", "LE", "GT", "GE", "EQ", "NE", "AND", "OR", "NOT",
          "FLOOR", "CEIL", "TRUNC"}
_FULL = (-np.inf, np.inf)
_UNIT = (0.0, 1.0)


def _mul(a, b):
    (al, ah), (bl, bh) = a, b
    with np.errstate(invalid="ignore"):
        p = [np.nan_to_num(x * y, nan=0.0, posinf=np.inf, neginf=-np.inf)
             for x in (al, ah) for y in (bl, bh)]  # 0 * inf counts as 0 at the corners
    return np.minimum.reduce(p), np.maximum.reduce(p)


def _div(a, b):
    bl, bh = _flt(b[0]), _flt(b[1])
    zero = (bl <= 0) & (bh >= 0)
    inv = (np.where(zero, -np.inf, 1.0 / bh), np.where(zero, np.inf, 1.0 / bl))
    lo, hi = _mul(a, inv)
    return np.where(zero, -np.inf, lo), np.where(zero, np.inf, hi)


def _monotone(f, increasing=True):
    def g(a):
        lo, hi = f(_flt(a[0])), f(_flt(a[1]))
        return (lo, hi) if increasing else (hi, lo)
    return g


def _pow_interval(a, b):
    al, ah = _flt(a[0]), _flt(a[1])
    bl, bh = _flt(b[0]), _flt(b[1])
    point = bl == bh
    c = bl
    out_lo = np.full(np.broadcast_shapes(al.shape, bl.shape), -np.inf)
    out_hi = np.full(out_lo.shape, np.inf)
    # general exponent, positive base: a**b = exp(b log a)
    gen = (al > 0) & ~point
    if np.any(gen):
        lg = (np.log(np.where(gen, al, 1.0)), np.log(np.where(gen, ah, 1.0)))
        ml, mh = _mul((bl, bh), lg)
        ml, mh = ml - np.abs(ml) * 1e-12 - 1e-300, mh + np.abs(mh) * 1e-12 + 1e-300  # rounding of b*log(a)
        out_lo = np.where(gen, np.exp(ml), out_lo)
        out_hi = np.where(gen, np.exp(mh), out_hi)
    if np.any(point):
        ci = np.where(point & np.isfinite(c), c, 0.5)
        integer = ci == np.round(ci)
        even = integer & (np.mod(ci, 2) == 0)
        odd = integer & ~even
        absl = np.where((al <= 0) & (ah >= 0), 0.0, np.minimum(np.abs(al), np.abs(ah)))
        absh = np.maximum(np.abs(al), np.abs(ah))
        # even powers: of |a|; odd: monotone unless negative power across 0; fractional: a >= 0
        with np.errstate(divide="ignore"):
            e_lo = np.where(ci >= 0, absl ** ci, absh ** ci)
            e_hi = np.where(ci >= 0, absh ** ci, absl ** ci)
            crosses = (al <= 0) & (ah >= 0)
            o_lo = np.where(ci >= 0, al ** ci, np.where(crosses, -np.inf, ah ** ci))
            o_hi = np.where(ci >= 0, ah ** ci, np.where(crosses, np.inf, al ** ci))
            nl, nh = np.maximum(al, 0.0), np.maximum(ah, 0.0)
            f_lo = np.where(ci >= 0, nl ** ci, nh ** ci)
            f_hi = np.where(ci >= 0, nh ** ci, nl ** ci)
        lo = np.where(even, e_lo, np.where(odd, o_lo, f_lo))
        hi = np.where(even, e_hi, np.where(odd, o_hi, f_hi))
        zero_pow = ci == 0
        lo, hi = np.where(zero_pow, 1.0, lo), np.where(zero_pow, 1.0, hi)
        ok = point & np.isfinite(c)
        out_lo, out_hi = np.where(ok, lo, out_lo), np.where(ok, hi, out_hi)
    return out_lo, out_hi


def _periodic(a, f, peak_at, trough_at):
    """Bounds of sin/cos over ``[lo, hi]``: ends, plus ±1 where a peak/trough lies inside."""
    lo, hi = _flt(a[0]), _flt(a[1])
    two_pi = 2 * math.pi
    wide = ~(np.isfinite(lo) & np.isfinite(hi)) | (hi - lo >= two_pi)
    l_, h_ = np.where(wide, 0.0, lo), np.where(wide, 0.0, hi)
    fl, fh = f(l_), f(h_)
    slack = 1e-9

    def contains(at):
        k = np.ceil((l_ - at) / two_pi - slack)
        return at + k * two_pi <= h_ + slack * (1 + np.abs(h_))

    top = np.where(contains(peak_at) | wide, 1.0, np.maximum(fl, fh))
    bottom = np.where(contains(trough_at) | wide, -1.0, np.minimum(fl, fh))
    return bottom, top


def _tan(a):
    lo, hi = _flt(a[0]), _flt(a[1])
    k = np.ceil((lo - math.pi / 2) / math.pi - 1e-9)
    pole = ~(np.isfinite(lo) & np.isfinite(hi)) | (math.pi / 2 + k * math.pi <= hi + 1e-9 * (1 + np.abs(hi)))
    return np.where(pole, -np.inf, np.tan(lo)), np.where(pole, np.inf, np.tan(hi))


def _atan2(y, x):
    yl, yh, xl, xh = _flt(y[0]), _flt(y[1]), _flt(x[0]), _flt(x[1])
    # the branch cut (negative x axis, approached from y < 0) or the origin inside: everything
    cut = (xl < 0) & (yl < 0) & (yh >= 0)
    corners = [np.arctan2(a + 0.0, b + 0.0) for a in (yl, yh) for b in (xl, xh)]
    lo, hi = np.minimum.reduce(corners), np.maximum.reduce(corners)
    # a box touching the origin also holds atan2(0, 0) = 0 and the angles around it
    origin = (xl <= 0) & (xh >= 0) & (yl <= 0) & (yh >= 0)
    lo, hi = np.where(origin, np.minimum(lo, 0.0), lo), np.where(origin, np.maximum(hi, 0.0), hi)
    return np.where(cut, -math.pi, lo), np.where(cut, math.pi, hi)


def _compare(strict_true, strict_false):
    def g(a, b):
        t, f = strict_true(a, b), strict_false(a, b)
        return np.where(t, 1.0, 0.0), np.where(f, 0.0, 1.0)
    return g


def _truth(a):
    """Bounds of (a != 0): (always true, always false)."""
    lo, hi = _flt(a[0]), _flt(a[1])
    return (lo > 0) | (hi < 0), (lo == 0) & (hi == 0)


def _and(a, b):
    (ta, fa), (tb, fb) = _truth(a), _truth(b)
    return np.where(ta & tb, 1.0, 0.0), np.where(fa | fb, 0.0, 1.0)


def _or(a, b):
    (ta, fa), (tb, fb) = _truth(a), _truth(b)
    return np.where(ta | tb, 1.0, 0.0), np.where(fa & fb, 0.0, 1.0)


def _not(a):
    t, f = _truth(a)
    return np.where(f, 1.0, 0.0), np.where(t, 0.0, 1.0)


def _where(c, a, b):
    t, f = _truth(c)
    lo = np.where(t, a[0], np.where(f, b[0], np.minimum(a[0], b[0])))
    hi = np.where(t, a[1], np.where(f, b[1], np.maximum(a[1], b[1])))
    return lo, hi


def _abs(a):
    lo, hi = _flt(a[0]), _flt(a[1])
    cross = (lo <= 0) & (hi >= 0)
    return np.where(cross, 0.0, np.minimum(np.abs(lo), np.abs(hi))), np.maximum(np.abs(lo), np.abs(hi))


def _clip0(f):
    return lambda x: f(np.maximum(x, 0.0))


_INTERVAL = {
    "NEG": lambda a: (-_flt(a[1]), -_flt(a[0])),
    "ADD": lambda a, b: (_flt(a[0]) + b[0], _flt(a[1]) + b[1]),
    "SUB": lambda a, b: (_flt(a[0]) - b[1], _flt(a[1]) - b[0]),
    "MUL": _mul, "DIV": _div, "POW": _pow_interval,
    "EXP": _monotone(np.exp), "LOG": _monotone(_clip0(np.log)), "SQRT": _monotone(_clip0(np.sqrt)),
    "LOGCLIP": _monotone(_clip0(np.log)), "ABS": _abs,
    "SIN": lambda a: _periodic(a, np.sin, math.pi / 2, -math.pi / 2),
    "COS": lambda a: _periodic(a, np.cos, 0.0, math.pi),
    "TAN": _tan, "ATAN": _monotone(np.arctan), "ATAN2": _atan2,
    "MIN": lambda a, b: (np.minimum(a[0], b[0]), np.minimum(a[1], b[1])),
    "MAX": lambda a, b: (np.maximum(a[0], b[0]), np.maximum(a[1], b[1])),
    "WHERE": _where,
    "LT": _compare(lambda a, b: _flt(a[1]) < b[0], lambda a, b: _flt(a[0]) >= b[1]),
    "LE": _compare(lambda a, b: _flt(a[1]) <= b[0], lambda a, b: _flt(a[0]) > b[1]),
    "GT": _compare(lambda a, b: _flt(a[0]) > b[1], lambda a, b: _flt(a[1]) <= b[0]),
    "GE": _compare(lambda a, b: _flt(a[0]) >= b[1], lambda a, b: _flt(a[1]) < b[0]),
    "EQ": _compare(lambda a, b: (_flt(a[0]) == a[1]) & (_flt(b[0]) == b[1]) & (_flt(a[0]) == b[0]),
                   lambda a, b: (_flt(a[1]) < b[0]) | (_flt(a[0]) > b[1])),
    "NE": _compare(lambda a, b: (_flt(a[1]) < b[0]) | (_flt(a[0]) > b[1]),
                   lambda a, b: (_flt(a[0]) == a[1]) & (_flt(b[0]) == b[1]) & (_flt(a[0]) == b[0])),
    "AND": _and, "OR": _or, "NOT": _not,
    "FLOOR": _monotone(np.floor), "CEIL": _monotone(np.ceil), "TRUNC": _monotone(np.trunc),
}
