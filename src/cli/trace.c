/* trace.c — `tg trace`: backpropagation through a small expression, worked
 * step by step (tg_backward_trace), and its picture (tg_graph_dot).
 *
 * The expression is a few statements, "name = expr" separated by ';' or
 * newlines, the last one the output. expr has + - * /, ^ with a number,
 * unary minus, parentheses, numbers, names and the functions below. Every
 * name that no statement defines is a variable: a scalar parameter whose
 * value is given as NAME=VALUE and whose gradient the trace ends with.
 * Without an expression, the tutorial's MLP (docs/TUTORIAL.md). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

/* The tutorial's network, one scalar at a time: two inputs, two sigmoid
 * hidden units, one linear output, squared error against the target y. */
static const char tutorial_mlp[] =
    "z1 = w11*x1 + w12*x2 + b1; z2 = w21*x1 + w22*x2 + b2;\n"
    "h1 = sigmoid(z1); h2 = sigmoid(z2);\n"
    "yhat = v1*h1 + v2*h2 + c; e = yhat - y; L = e^2";
static const char *const tutorial_values[] = {
    "x1=0.5", "x2=-1", "w11=0.2", "w12=-0.4", "b1=0.1", "w21=0.6", "w22=0.1", "b2=-0.3",
    "v1=0.5", "v2=-0.7", "c=0.2", "y=1",
};

static const char usage[] =
    "usage: tg trace ['STATEMENTS'] [NAME=VALUE ...] [--dot FILE]\n"
    "  the backward sweep of an expression, node by node in reverse topological\n"
    "  order: each node's op, value, local derivative and gradient, and what it\n"
    "  passes to its inputs. STATEMENTS: 'name = expr; ...', the last one the\n"
    "  output; expr: numbers, names, + - * / ^NUMBER, ( ), and sigmoid tanh relu\n"
    "  exp log sqrt abs square. Each name no statement defines is a variable:\n"
    "  give its value as NAME=VALUE. Without STATEMENTS: the tutorial's MLP\n"
    "  (docs/TUTORIAL.md), whose values NAME=VALUE may change.\n"
    "  --dot FILE   also write the graph, values and gradients on its nodes, as\n"
    "               Graphviz DOT (render: dot -Tpng FILE -o graph.png)\n"
    "  example: tg trace 'tanh(x1*w1 + x2*w2 + b)' x1=2 x2=0 w1=-3 w2=1 b=6.8814\n";

/* A bound on nesting keeps the recursive descent's stack small whatever
 * the text. */
enum { MAX_NAMES = 64, NAME_LEN = 24, MAX_DEPTH = 100 };

typedef struct variable {
    char name[NAME_LEN];
    double value;
    bool used;
    tg_tensor *t;   /* standalone: a parameter of the expression */
} variable;

typedef struct defined {
    char name[NAME_LEN];
    tg_tensor *t;
} defined;

typedef struct parser {
    const char *text, *p;
    tg_graph *g;
    variable vars[MAX_NAMES];
    int n_vars;
    defined defs[MAX_NAMES];
    int n_defs;
    char error[160];   /* a syntax or name error; library failures are in tg_last_error */
    FILE *out;         /* where the forward pass is written, or NULL */
    int depth;         /* of nested parentheses, calls and unary minus */
} parser;

static void skip_space(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r') ps->p++;
}

static bool at(parser *ps, char c)
{
    skip_space(ps);
    if (*ps->p != c) return false;
    ps->p++;
    return true;
}

static tg_tensor *fail(parser *ps, const char *what)
{
    if (!ps->error[0])
        snprintf(ps->error, sizeof ps->error, "column %d: %s", (int)(ps->p - ps->text) + 1, what);
    return NULL;
}

/* An identifier into name; false (and p unmoved) if there is none. */
static bool read_name(parser *ps, char name[NAME_LEN])
{
    skip_space(ps);
    const char *s = ps->p;
    if (!isalpha((unsigned char)*s) && *s != '_') return false;
    size_t n = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_') n++;
    if (n >= NAME_LEN) {
        fail(ps, "a name is longer than 23 characters");
        return false;
    }
    memcpy(name, s, n);
    name[n] = '\0';
    ps->p = s + n;
    return true;
}

static bool read_number(parser *ps, double *v)
{
    skip_space(ps);
    if (!isdigit((unsigned char)*ps->p) && *ps->p != '.') return false;
    char *end;
    errno = 0;
    *v = strtod(ps->p, &end);
    if (end == ps->p || errno || !isfinite(*v)) return false;
    ps->p = end;
    return true;
}

static tg_tensor *constant(parser *ps, double v)
{
    tg_tensor *t = tg_full(ps->g, 0, NULL, (float)v);
    char name[NAME_LEN];
    snprintf(name, sizeof name, "%g", v);
    if (t) tg_tensor_set_name(t, name);
    return t;
}

/* A name is a statement's result if one defined it, else a variable. */
static tg_tensor *lookup(parser *ps, const char *name)
{
    for (int i = ps->n_defs; i-- > 0;)
        if (!strcmp(ps->defs[i].name, name)) return ps->defs[i].t;
    for (int i = 0; i < ps->n_vars; i++) {
        variable *v = &ps->vars[i];
        if (strcmp(v->name, name)) continue;
        if (!v->t) {
            v->t = tg_full(NULL, 0, NULL, (float)v->value);
            if (!v->t || tg_tensor_requires_grad(v->t, true) != TG_OK) return NULL;
            tg_tensor_set_name(v->t, name);
        }
        v->used = true;
        return v->t;
    }
    char what[80];
    snprintf(what, sizeof what, "%s has no value: give it as %s=VALUE", name, name);
    return fail(ps, what);
}

typedef tg_tensor *(*unary_fn)(tg_graph *, tg_tensor *);
static const struct function {
    const char *name;
    unary_fn f;
} functions[] = {
    {"sigmoid", tg_sigmoid}, {"tanh", tg_tanh}, {"relu", tg_relu}, {"exp", tg_exp},
    {"log", tg_log},         {"sqrt", tg_sqrt}, {"abs", tg_abs},   {"square", tg_square},
};

static tg_tensor *expression(parser *ps);

static tg_tensor *call(parser *ps, const char *name)
{
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        if (strcmp(functions[i].name, name)) continue;
        tg_tensor *x = expression(ps);
        if (!x) return NULL;
        if (!at(ps, ')')) return fail(ps, "expected ')'");
        return functions[i].f(ps->g, x);
    }
    char what[80];
    snprintf(what, sizeof what, "unknown function '%s'", name);
    return fail(ps, what);
}

/* primary: number | name | name '(' expr ')' | '(' expr ')' */
static tg_tensor *primary(parser *ps)
{
    char name[NAME_LEN];
    double v;
    if (at(ps, '(')) {
        tg_tensor *x = expression(ps);
        if (x && !at(ps, ')')) return fail(ps, "expected ')'");
        return x;
    }
    if (read_number(ps, &v)) return constant(ps, v);
    if (read_name(ps, name)) return at(ps, '(') ? call(ps, name) : lookup(ps, name);
    return fail(ps, *ps->p ? "expected a number, a name or '('" : "the expression ends too soon");
}

/* factor: '-' factor | primary ['^' ['-'] number] */
static tg_tensor *factor(parser *ps)
{
    if (at(ps, '-')) {
        if (++ps->depth > MAX_DEPTH) return fail(ps, "the expression nests too deeply");
        tg_tensor *x = factor(ps);
        ps->depth--;
        return x ? tg_neg(ps->g, x) : NULL;
    }
    tg_tensor *x = primary(ps);
    if (!x || !at(ps, '^')) return x;
    bool negative = at(ps, '-');
    double p;
    if (!read_number(ps, &p)) return fail(ps, "expected a number after '^'");
    return tg_pow(ps->g, x, (float)(negative ? -p : p));
}

/* term: factor {('*' | '/') factor} */
static tg_tensor *term(parser *ps)
{
    tg_tensor *x = factor(ps);
    for (;;) {
        bool times = at(ps, '*');
        if (!x || (!times && !at(ps, '/'))) return x;
        tg_tensor *y = factor(ps);
        x = y ? (times ? tg_mul : tg_div)(ps->g, x, y) : NULL;
    }
}

/* expression: term {('+' | '-') term} */
static tg_tensor *expression(parser *ps)
{
    if (++ps->depth > MAX_DEPTH) return fail(ps, "the expression nests too deeply");
    tg_tensor *x = term(ps);
    for (;;) {
        bool plus = at(ps, '+');
        if (!x || (!plus && !at(ps, '-'))) break;
        tg_tensor *y = term(ps);
        x = y ? (plus ? tg_add : tg_sub)(ps->g, x, y) : NULL;
    }
    ps->depth--;
    return x;
}

static bool statement_end(parser *ps)
{
    skip_space(ps);
    return !*ps->p || *ps->p == ';' || *ps->p == '\n';
}

/* One statement, "name = expr" or "expr"; prints it with its value, the
 * forward pass the way one writes it out before going backwards. */
static tg_tensor *statement(parser *ps)
{
    skip_space(ps);
    const char *start = ps->p, *rest = ps->p;
    char name[NAME_LEN] = "";
    if (read_name(ps, name) && at(ps, '=')) {
        skip_space(ps);
        rest = ps->p;
    } else {
        name[0] = '\0';
        ps->p = start;
    }
    tg_tensor *x = expression(ps);
    if (x && !statement_end(ps)) return fail(ps, "expected an operator, ';' or the end");
    if (!x) return NULL;
    if (name[0]) {
        if (ps->n_defs == MAX_NAMES) return fail(ps, "too many statements");
        if (x->graph && !x->name[0]) tg_tensor_set_name(x, name);   /* "h = x" keeps x's name */
        ps->defs[ps->n_defs++] = (defined){.t = x};
        snprintf(ps->defs[ps->n_defs - 1].name, NAME_LEN, "%s", name);
    }
    int len = (int)(ps->p - rest);
    while (len > 0 && isspace((unsigned char)rest[len - 1])) len--;
    if (ps->out) fprintf(ps->out, "  %s%s%.*s = %.4g\n", name, name[0] ? " = " : "", len, rest, x->data[0]);
    return x;
}

/* Every statement; the last one's value, or NULL. */
static tg_tensor *program(parser *ps)
{
    tg_tensor *out = NULL;
    if (ps->out) fprintf(ps->out, "forward pass:\n");
    for (;;) {
        while (at(ps, ';') || at(ps, '\n')) {}
        if (!*ps->p) break;
        if (!(out = statement(ps))) return NULL;
    }
    return out ? out : fail(ps, "the expression is empty");
}

/* NAME=NUMBER: a variable's value. 1 if arg is one, 0 if not, -1 if bad. */
static int value_arg(parser *ps, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : 0;
    if (!n || (!isalpha((unsigned char)arg[0]) && arg[0] != '_')) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)arg[i]) && arg[i] != '_') return 0;
    char *end;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (!eq[1] || *end || errno || !isfinite(v)) return 0;   /* "L=x*y" is a statement */
    if (n >= NAME_LEN || ps->n_vars == MAX_NAMES) {
        fprintf(stderr, "tg trace: %s: %s\n", arg, n >= NAME_LEN ? "the name is too long" : "too many values");
        return -1;
    }
    for (int i = 0; i < ps->n_vars; i++)
        if (strlen(ps->vars[i].name) == n && !strncmp(ps->vars[i].name, arg, n)) {
            ps->vars[i].value = v;   /* the last one given wins (the tutorial's, then yours) */
            return 1;
        }
    variable *var = &ps->vars[ps->n_vars++];
    memcpy(var->name, arg, n);
    var->name[n] = '\0';
    var->value = v;
    return 1;
}

static tg_status dot_of(FILE *f, void *root) { return tg_graph_dot(root, f); }

static bool write_dot(const tg_tensor *out, const char *path)
{
    if (tg_file_write_atomic(path, "the graph", dot_of, (void *)out) == TG_OK) return true;
    fprintf(stderr, "tg trace: %s\n", tg_last_error());
    return false;
}

static void print_gradients(const parser *ps, const tg_tensor *out)
{
    char name[NAME_LEN];
    snprintf(name, sizeof name, "%s", out->name[0] ? out->name : "out");
    printf("\ngradients of %s:\n", name);
    for (int i = 0; i < ps->n_vars; i++) {
        const variable *v = &ps->vars[i];
        printf("  d%s/d%-6s = %.4g\n", name, v->name, v->t->grad[0]);
    }
}

static void free_variables(parser *ps)
{
    for (int i = 0; i < ps->n_vars; i++) tg_tensor_free(ps->vars[i].t);
}

int cmd_trace(int argc, char **argv)
{
    static parser ps;   /* 5 KB: off the stack */
    memset(&ps, 0, sizeof ps);
    const char *text = NULL, *dot = NULL;
    for (int i = 0; i < argc; i++) {
        int r = 0;
        /* a flag is --word: '-x' and '---x' are expressions */
        bool flag = !strncmp(argv[i], "--", 2) && isalpha((unsigned char)argv[i][2]);
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--dot") && i + 1 < argc) {
            dot = argv[++i];
        } else if (!flag && (r = value_arg(&ps, argv[i])) != 0) {
            if (r < 0) return EXIT_USAGE;
        } else if (!flag && !text) {
            text = argv[i];
        } else {
            fprintf(stderr, "tg trace: unknown or extra argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    if (!text) {   /* the tutorial's values, then any the user gave over them */
        variable given[MAX_NAMES];
        int n_given = ps.n_vars;
        memcpy(given, ps.vars, sizeof given);
        ps.n_vars = 0;
        for (size_t i = 0; i < sizeof tutorial_values / sizeof tutorial_values[0]; i++)
            value_arg(&ps, tutorial_values[i]);
        for (int i = 0; i < n_given; i++) {
            char arg[64];
            snprintf(arg, sizeof arg, "%.23s=%.17g", given[i].name, given[i].value);
            if (value_arg(&ps, arg) < 0) return EXIT_USAGE;
        }
        text = tutorial_mlp;
    }
    /* Parsing builds the graph: the command-line fuzzer goes that far. */
    ps.out = cli_parse_only ? NULL : stdout;
    ps.text = ps.p = text;
    if (!(ps.g = tg_graph_new())) {
        fprintf(stderr, "tg trace: out of memory\n");
        return EXIT_FAIL;
    }
    int status = EXIT_OK;
    tg_tensor *out = program(&ps);
    for (int i = 0; out && i < ps.n_vars; i++)
        if (!ps.vars[i].used) {
            snprintf(ps.error, sizeof ps.error, "%s is not in the expression", ps.vars[i].name);
            out = NULL;
        }
    if (!out) {
        fprintf(stderr, "tg trace: %s\n", ps.error[0] ? ps.error : tg_last_error());
        status = ps.error[0] ? EXIT_USAGE : EXIT_FAIL;
    } else if (!out->requires_grad) {
        fprintf(stderr, "tg trace: the output depends on no variable: nothing to differentiate\n");
        status = EXIT_USAGE;
    } else if (!cli_parse_only) {
        printf("\n");
        if (tg_backward_trace(out, stdout) != TG_OK) {
            fprintf(stderr, "tg trace: %s\n", tg_last_error());
            status = EXIT_FAIL;
        } else {
            print_gradients(&ps, out);
            if (dot && !write_dot(out, dot)) status = EXIT_FAIL;
        }
    }
    tg_graph_free(ps.g);
    free_variables(&ps);
    return status;
}
