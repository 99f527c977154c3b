/* node.c — what messages, the trace and the picture call a tensor. */
#include <stdio.h>

#include "graph_own.h"

const char *tg_tensor_op_name(const tg_tensor *t)
{
    return !t ? "" : t->op ? t->op->name : "leaf";
}

const char *tg__node_label(const tg_tensor *t, char buf[32])
{
    if (t->name[0]) return t->name;
    if (!t->graph) return "parameter";
    snprintf(buf, 32, "#%zu", t->id);
    return buf;
}
