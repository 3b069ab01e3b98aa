/* network.c — graph description, shapes, memory plan, forward and backward.
 *
 * Layout rules: every node's output is one CHW tensor (one sample) whose
 * spatial size is the input's times num/den; the flat parameter array holds,
 * node after node, in this order:
 *   conv       weight (cout, cin, k, k), then bias (cout) when it has one;
 *   dwconv     weight (c, 1, k, k), then bias (c) when it has one;
 *   prelu      alpha (c);
 *   layernorm  weight (c), then bias (c);
 *   scale      scale (c);
 * with c the channels of the node's input. Gradients use the same layout. */
#include "config.h"

#include "network.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "json.h"
#include "ops.h"
#include "resize.h"
#include "rng.h"
#include "winograd.h"

#define MAX_INPUTS 8
#define MAX_NODES 512
/* MATLAB's cubic taps reach 3 pixels at most. */
#define BICUBIC_REACH 3

typedef enum {
  OP_INPUT,
  OP_NOISE_LEVEL,
  OP_CONV,
  OP_RELU,
  OP_LEAKY_RELU,
  OP_PRELU,
  OP_ADD,
  OP_CONCAT,
  OP_SHUFFLE,
  OP_UNSHUFFLE,
  OP_BICUBIC,
  OP_DWCONV,
  OP_GATE,
  OP_LAYER_NORM,
  OP_SIGMOID,
  OP_MUL,
  OP_SCALE,
} OpKind;

static const char *const op_names[] = {
  "input",     "noise_level", "conv",   "relu", "leaky_relu", "prelu",   "add", "concat", "shuffle",
  "unshuffle", "bicubic",     "dwconv", "gate", "layernorm",  "sigmoid", "mul", "scale",
};

typedef struct {
  OpKind op;
  int n_in;
  int in[MAX_INPUTS];
  int channels;        /* output channels */
  int num, den;        /* output size = input image size * num / den */
  int k, stride;       /* conv; k for dwconv */
  gboolean has_bias;   /* conv, dwconv */
  int factor;          /* shuffle, unshuffle, bicubic */
  float slope;         /* leaky_relu */
  gsize weight, bias;  /* offsets into the parameters: weight, or prelu's alpha, scale's scale */
  gboolean needs_grad; /* some parameter is upstream of this node */
  int last_use;        /* index of the last node reading this one */
  int need;            /* tiles: pixels of this output around the core that later nodes read */
  /* Inference only (see plan_network): */
  gsize wino;          /* conv 3×3 stride 1: offset of its Winograd weights */
  gboolean relu_fused; /* conv whose only reader, the next node, is a ReLU */
  gboolean into_add;   /* shuffle whose only reader, the next node, is an add */
} Node;

struct AenetNetwork {
  int n_nodes;
  Node *nodes;
  int input; /* the input node */
  int in_channels;
  gboolean takes_noise_level;
  int alignment, reach;
  double macs_per_pixel;
  gsize n_params;
  float *params;
  GArray *param_info; /* AenetParamInfo, names owned */
  /* Winograd weights of the 3×3 stride-1 convs, made from the parameters
   * when an inference pass first needs them and again whenever the
   * parameters changed since (wino_source is the copy they were made
   * from). A cache, not part of the network's value: filled under the
   * lock from passes on a const network. */
  GMutex wino_lock;
  gsize n_wino;
  float *wino, *wino_source;
  gboolean wino_ready;
};

/* What a workspace computes: the whole input (with 'same' padding at its
 * edges), for a plain pass or for training, or a tile's core (see "tiles"
 * below). */
typedef enum {
  WORKSPACE_WHOLE,
  WORKSPACE_TRAINING,
  WORKSPACE_TILE,
} WorkspaceKind;

struct AenetWorkspace {
  int n_nodes;
  int h, w;
  WorkspaceKind kind;
  AenetConvKernel kernel; /* inference only */
  float *memory;          /* one allocation for everything below */
  float **outputs;        /* per node; the input node points at the caller's input */
  float **grads;          /* per node (training only), NULL where not needed */
  float *crop;            /* tiles: an input cut to what a kernel reads */
  float *scratch;
  gsize scratch_size;
};

static int
gcd(int a, int b)
{
  while (b != 0) {
    int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* The size of node n's output for an h × w input (core), grown by margin
 * of its pixels on every side. */
static void
node_size(const Node *n, int h, int w, int margin, int *nh, int *nw)
{
  *nh = h * n->num / n->den + 2 * margin;
  *nw = w * n->num / n->den + 2 * margin;
}

/* ---- parsing ---------------------------------------------------------- */

static gboolean
get_int_field(const AenetJson *obj, const char *key, int def, int lo, int hi, int index, int *out,
              GError **error)
{
  const AenetJson *v = aenet_json_object_get(obj, key);
  if (v == NULL) {
    *out = def;
    return TRUE;
  }
  double d = aenet_json_get_type(v) == AENET_JSON_NUMBER ? aenet_json_get_number(v) : NAN;
  if (!(d >= lo && d <= hi) || d != floor(d)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                /* TRANSLATORS: %s is the name of a field in the network description, such as “out”
                   or “k”; keep it. */
                _("network node %d: “%s” must be an integer from %d to %d"), index, key, lo, hi);
    return FALSE;
  }
  *out = (int)d;
  return TRUE;
}

static gboolean
check_fields(const AenetJson *obj, const char *const *allowed, int index, GError **error)
{
  for (guint m = 0; m < aenet_json_get_length(obj); m++) {
    const char *key;
    aenet_json_object_get_member(obj, m, &key);
    gboolean ok = strcmp(key, "op") == 0 || strcmp(key, "in") == 0;
    for (int a = 0; !ok && allowed[a] != NULL; a++)
      ok = strcmp(key, allowed[a]) == 0;
    if (!ok) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT, _("network node %d: unknown field “%s”"),
                  index, key);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
parse_inputs(const AenetJson *obj, int index, int min_in, int max_in, Node *node, GError **error)
{
  const AenetJson *in = aenet_json_object_get(obj, "in");
  if (in == NULL) {
    if (min_in > 1 || index == 0) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                  /* TRANSLATORS: %s is an operation name such as “conv”; keep it, like the field
                     names in quotes. */
                  _("network node %d (%s): “in” is required"), index, op_names[node->op]);
      return FALSE;
    }
    node->n_in = 1;
    node->in[0] = index - 1;
    return TRUE;
  }
  guint n = aenet_json_get_type(in) == AENET_JSON_ARRAY ? aenet_json_get_length(in) : 0;
  if ((int)n < min_in || (int)n > max_in) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                _("network node %d (%s): “in” must list %d to %d earlier nodes"), index,
                op_names[node->op], min_in, max_in);
    return FALSE;
  }
  node->n_in = n;
  for (guint i = 0; i < n; i++) {
    const AenetJson *v = aenet_json_array_get(in, i);
    double d = aenet_json_get_type(v) == AENET_JSON_NUMBER ? aenet_json_get_number(v) : -1;
    if (!(d >= 0 && d < index) || d != floor(d)) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                  _("network node %d: input %u is not an earlier node"), index, i);
      return FALSE;
    }
    node->in[i] = (int)d;
  }
  return TRUE;
}

#define FAIL(...)                                                                                  \
  do {                                                                                             \
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT, __VA_ARGS__);                              \
    return FALSE;                                                                                  \
  } while (0)

/* "bias" (true) of a conv or dwconv. */
static gboolean
get_bias_field(const AenetJson *obj, int index, Node *node, GError **error)
{
  const AenetJson *b = aenet_json_object_get(obj, "bias");
  node->has_bias = TRUE;
  if (b == NULL)
    return TRUE;
  if (aenet_json_get_type(b) != AENET_JSON_BOOL)
    FAIL(_("network node %d: “bias” must be true or false"), index);
  node->has_bias = aenet_json_get_bool(b);
  return TRUE;
}

/* Fills node i from its JSON object and checks it against its inputs. */
static gboolean
parse_node(AenetNetwork *net, const AenetJson *obj, int i, GError **error)
{
  Node *node = &net->nodes[i];
  const AenetJson *opv = aenet_json_object_get(obj, "op");
  if (aenet_json_get_type(obj) != AENET_JSON_OBJECT || opv == NULL
      || aenet_json_get_type(opv) != AENET_JSON_STRING)
    FAIL(_("network node %d: not an object with an “op” string"), i);
  const char *op = aenet_json_get_string(opv);
  int kind = -1;
  for (int k = 0; k < (int)G_N_ELEMENTS(op_names); k++)
    if (strcmp(op, op_names[k]) == 0)
      kind = k;
  if (kind < 0)
    FAIL(_("network node %d: unknown operation “%s”"), i, op);
  node->op = kind;
  node->factor = 1;
  node->k = 1;
  node->stride = 1;

  static const char *const none[] = { NULL };
  static const char *const input_f[] = { "channels", NULL };
  static const char *const conv_f[] = { "out", "k", "stride", "bias", NULL };
  static const char *const dwconv_f[] = { "k", "bias", NULL };
  static const char *const factor_f[] = { "factor", NULL };
  static const char *const slope_f[] = { "slope", NULL };

  if (node->op == OP_INPUT || node->op == OP_NOISE_LEVEL) {
    if (!check_fields(obj, node->op == OP_INPUT ? input_f : none, i, error))
      return FALSE;
    if (aenet_json_object_get(obj, "in") != NULL)
      FAIL(_("network node %d (%s) takes no inputs"), i, op);
    node->n_in = 0;
    node->num = node->den = 1;
    node->channels = 1;
    if (node->op == OP_INPUT) {
      if (net->in_channels != 0)
        FAIL(_("network node %d: a network has only one input"), i);
      if (!get_int_field(obj, "channels", 3, 1, 3, i, &node->channels, error))
        return FALSE;
      if (node->channels == 2)
        FAIL(_("network node %d: the input has 1 (gray) or 3 (colour) channels"), i);
      net->in_channels = node->channels;
      net->input = i;
    } else
      net->takes_noise_level = TRUE;
    return TRUE;
  }

  gboolean binary = node->op == OP_ADD || node->op == OP_MUL;
  int max_in = node->op == OP_CONCAT ? MAX_INPUTS : binary ? 2 : 1;
  int min_in = node->op == OP_CONCAT || binary ? 2 : 1;
  if (!parse_inputs(obj, i, min_in, max_in, node, error))
    return FALSE;
  const Node *a = &net->nodes[node->in[0]];
  node->channels = a->channels;
  node->num = a->num;
  node->den = a->den;

  switch (node->op) {
  case OP_CONV:
    if (!check_fields(obj, conv_f, i, error)
        || !get_int_field(obj, "out", -1, 1, 4096, i, &node->channels, error)
        || !get_int_field(obj, "k", 3, 1, 3, i, &node->k, error)
        || !get_int_field(obj, "stride", 1, 1, 2, i, &node->stride, error)
        || !get_bias_field(obj, i, node, error))
      return FALSE;
    if (node->channels < 0)
      FAIL(_("network node %d (conv): “out” is required"), i);
    if (node->k == 2)
      FAIL(_("network node %d: “k” must be 1 or 3"), i);
    node->den *= node->stride;
    break;
  case OP_DWCONV:
    if (!check_fields(obj, dwconv_f, i, error)
        || !get_int_field(obj, "k", 3, 1, 7, i, &node->k, error)
        || !get_bias_field(obj, i, node, error))
      return FALSE;
    if (node->k % 2 == 0)
      FAIL(_("network node %d (dwconv): “k” must be odd (1, 3, 5 or 7)"), i);
    break;
  case OP_GATE:
    if (!check_fields(obj, none, i, error))
      return FALSE;
    if (a->channels % 2 != 0)
      /* TRANSLATORS: “gate” multiplies the first half of its input's channels by the second
         half; keep the name. */
      FAIL(_("network node %d (gate): its input, node %d, has %d channels, not an even number"), i,
           node->in[0], a->channels);
    node->channels = a->channels / 2;
    break;
  case OP_RELU:
  case OP_PRELU:
  case OP_LAYER_NORM:
  case OP_SIGMOID:
  case OP_SCALE:
    if (!check_fields(obj, none, i, error))
      return FALSE;
    break;
  case OP_LEAKY_RELU: {
    const AenetJson *s = aenet_json_object_get(obj, "slope");
    if (!check_fields(obj, slope_f, i, error))
      return FALSE;
    node->slope = 0.2f;
    if (s != NULL) {
      double d = aenet_json_get_type(s) == AENET_JSON_NUMBER ? aenet_json_get_number(s) : NAN;
      if (!(d >= 0.0 && d < 1.0))
        FAIL(_("network node %d: “slope” must be a number in [0, 1)"), i);
      node->slope = d;
    }
    break;
  }
  case OP_ADD:
  case OP_MUL:
  case OP_CONCAT:
    if (!check_fields(obj, none, i, error))
      return FALSE;
    for (int j = 1; j < node->n_in; j++) {
      const Node *b = &net->nodes[node->in[j]];
      if (b->num * a->den != a->num * b->den)
        /* TRANSLATORS: %s is an operation name, “add”, “mul” or “concat”; the two last %d are
           node numbers. */
        FAIL(_("network node %d (%s): inputs %d and %d differ in size"), i, op, node->in[0],
             node->in[j]);
      if (binary && b->channels != a->channels)
        /* TRANSLATORS: %s is an operation name, “add” or “mul”. */
        FAIL(_("network node %d (%s): inputs %d and %d differ in channels (%d and %d)"), i, op,
             node->in[0], node->in[j], a->channels, b->channels);
      if (node->op == OP_CONCAT)
        node->channels += b->channels;
    }
    break;
  case OP_SHUFFLE:
  case OP_UNSHUFFLE:
  case OP_BICUBIC:
    if (!check_fields(obj, factor_f, i, error)
        || !get_int_field(obj, "factor", 2, 2, 4, i, &node->factor, error))
      return FALSE;
    if (node->op == OP_SHUFFLE) {
      if (a->channels % (node->factor * node->factor) != 0)
        FAIL(_("network node %d (shuffle): %d channels are not a multiple of %d"), i, a->channels,
             node->factor * node->factor);
      node->channels = a->channels / (node->factor * node->factor);
      node->num *= node->factor;
    } else if (node->op == OP_UNSHUFFLE) {
      node->channels = a->channels * node->factor * node->factor;
      node->den *= node->factor;
    } else
      node->num *= node->factor;
    break;
  default:
    g_assert_not_reached();
  }
  int g = gcd(node->num, node->den);
  node->num /= g;
  node->den /= g;
  return TRUE;
}

/* ---- tiles: what each node must compute ------------------------------
 *
 * A tile workspace computes the core of a tile, h × w input pixels at a
 * multiple of the alignment, and each node's output only over the core
 * (at the node's resolution) grown by the node's need: the pixels around
 * it that later nodes read, in its own pixels. Needs come backwards from
 * the output (need 0): a node needs the most that any of its readers
 * reads of it. Whole pixels keep every node's grid on the whole image's,
 * so a crop is exactly that part of the whole-image tensor. */

static int
round_up(int x, int a)
{
  return (x + a - 1) / a * a;
}

/* The margin, in its input's pixels, that node n reads around the core
 * to make margin pixels of its output. */
static int
read_margin(const Node *n, int margin)
{
  switch (n->op) {
  case OP_CONV:
    /* A whole number of output pixels' worth, so that the crop starts
     * on the stride's phase: a 3×3 stride-2 conv reads 2 more, not 1. */
    return round_up(margin * n->stride + n->k / 2, n->stride);
  case OP_DWCONV:
    return margin + n->k / 2;
  case OP_UNSHUFFLE:
    return margin * n->factor;
  case OP_SHUFFLE:
    return margin / n->factor; /* a multiple of factor, see plan_margins */
  case OP_BICUBIC:
    return margin / n->factor + BICUBIC_REACH;
  default:
    return margin;
  }
}

static void
plan_margins(AenetNetwork *net)
{
  for (int i = net->n_nodes - 1; i >= 0; i--) {
    Node *n = &net->nodes[i];
    /* Up-sampling ops read whole pixels of their input: their output's
     * margin is a multiple of the factor. So is an add's that reads a
     * shuffle, so that the shuffle can be added straight into its other
     * input (see plan_network). */
    if (n->op == OP_SHUFFLE || n->op == OP_BICUBIC)
      n->need = round_up(n->need, n->factor);
    for (int j = 0; n->op == OP_ADD && j < n->n_in; j++) {
      const Node *a = &net->nodes[n->in[j]];
      if (a->op == OP_SHUFFLE)
        n->need = round_up(n->need, a->factor);
    }
    for (int j = 0; j < n->n_in; j++) {
      Node *a = &net->nodes[n->in[j]];
      a->need = MAX(a->need, read_margin(n, n->need));
    }
  }
}

/* Multiply-adds of node n per pixel of its output. */
static double
node_macs(const AenetNetwork *net, const Node *n)
{
  if (n->op == OP_CONV)
    return (double)n->channels * net->nodes[n->in[0]].channels * n->k * n->k;
  if (n->op == OP_DWCONV)
    return (double)n->channels * n->k * n->k;
  return 0.0; /* element-wise work, small beside the convolutions' */
}

/* Appends the parameter tensor "nodes.<i>.<what>" of shape (d0, d1, d2, d3)
 * cut to n_dims dimensions (the others 0) after the parameters so far;
 * returns its offset. */
static gsize
add_param(AenetNetwork *net, int i, const char *what, int n_dims, gint64 d0, gint64 d1, gint64 d2,
          gint64 d3)
{
  AenetParamInfo p
      = { g_strdup_printf("nodes.%d.%s", i, what), n_dims, { d0, d1, d2, d3 }, net->n_params, 1 };
  for (int d = 0; d < n_dims; d++)
    p.n_elements *= p.shape[d];
  g_array_append_val(net->param_info, p);
  net->n_params += p.n_elements;
  return p.offset;
}

/* Parameter layout (see the top of this file), gradient flags, reach,
 * alignment, cost and margins. */
static gboolean
plan_network(AenetNetwork *net, GError **error)
{
  double *reach = g_new0(double, net->n_nodes);
  net->param_info = g_array_new(FALSE, TRUE, sizeof(AenetParamInfo));
  net->alignment = 1;
  for (int i = 0; i < net->n_nodes; i++) {
    Node *n = &net->nodes[i];
    const Node *a = n->n_in > 0 ? &net->nodes[n->in[0]] : NULL;
    double in_pixel = a != NULL ? (double)a->den / a->num : 1.0; /* in image pixels */
    double own = 0.0;
    for (int j = 0; j < n->n_in; j++) {
      reach[i] = MAX(reach[i], reach[n->in[j]]);
      n->needs_grad |= net->nodes[n->in[j]].needs_grad;
      net->nodes[n->in[j]].last_use = i;
    }
    n->last_use = i;
    net->alignment = net->alignment / gcd(net->alignment, n->den) * n->den;
    double out_pixels = (double)n->num * n->num / ((double)n->den * n->den);
    net->macs_per_pixel += out_pixels * node_macs(net, n);
    int c = n->channels;
    gsize params_before = net->n_params;
    switch (n->op) {
    case OP_CONV:
    case OP_DWCONV:
      if (n->op == OP_CONV)
        /* An output pixel of a strided conv covers stride input pixels. */
        own = (n->k / 2 + n->stride - 1) * in_pixel;
      else
        own = n->k / 2 * in_pixel;
      n->weight = add_param(net, i, "weight", 4, c, n->op == OP_CONV ? a->channels : 1, n->k, n->k);
      if (n->has_bias)
        n->bias = add_param(net, i, "bias", 1, c, 0, 0, 0);
      break;
    case OP_PRELU:
    case OP_SCALE: /* one value per channel */
      n->weight = add_param(net, i, n->op == OP_PRELU ? "alpha" : "scale", 1, c, 0, 0, 0);
      break;
    case OP_LAYER_NORM:
      n->weight = add_param(net, i, "weight", 1, c, 0, 0, 0);
      n->bias = add_param(net, i, "bias", 1, c, 0, 0, 0);
      break;
    case OP_UNSHUFFLE:
      own = (n->factor - 1) * in_pixel;
      break;
    case OP_BICUBIC:
      if (a->needs_grad) {
        g_free(reach);
        FAIL(_("network node %d: bicubic can only resize inputs that have no parameters "
               "before them"),
             i);
      }
      own = BICUBIC_REACH * in_pixel;
      break;
    default:
      break;
    }
    n->needs_grad |= net->n_params > params_before;
    reach[i] += own;
  }
  net->reach = (int)ceil(reach[net->n_nodes - 1] - 1e-9);
  g_free(reach);
  plan_margins(net);

  /* Inference shortcuts, decided here once for every workspace: a
   * Winograd conv applies the ReLU that alone reads it, and a shuffle
   * that alone feeds an add is added straight into the add's other input
   * when nothing else reads that either (saving the shuffle's buffer). */
  for (int i = 0; i < net->n_nodes; i++) {
    Node *n = &net->nodes[i];
    n->wino = G_MAXSIZE;
    if (n->op == OP_CONV && n->k == 3 && n->stride == 1) {
      n->wino = net->n_wino;
      net->n_wino += aenet_winograd_weights_size(net->nodes[n->in[0]].channels, n->channels);
    }
    if (i + 1 >= net->n_nodes || n->last_use != i + 1)
      continue;
    const Node *next = &net->nodes[i + 1];
    n->relu_fused = n->wino != G_MAXSIZE && next->op == OP_RELU;
    if (n->op == OP_SHUFFLE && next->op == OP_ADD && next->in[0] != next->in[1]) {
      const Node *other = &net->nodes[next->in[next->in[0] == i ? 1 : 0]];
      n->into_add = other->op != OP_INPUT && other->last_use == i + 1;
    }
  }

  const Node *out = &net->nodes[net->n_nodes - 1];
  if (net->in_channels == 0)
    FAIL(_("the network has no input node"));
  if (out->den != 1 || out->num < 1 || out->num > 4)
    /* TRANSLATORS: %d/%d is a fraction, the output's size divided by the input's. */
    FAIL(_("the network's output must be 1 to 4 times the input's size, not %d/%d"), out->num,
         out->den);
  if (out->channels != net->in_channels)
    FAIL(_("the network's output has %d channels, its input %d"), out->channels, net->in_channels);
  for (int i = 0; i < net->n_nodes - 1; i++)
    if (net->nodes[i].last_use == i && net->nodes[i].op != OP_INPUT)
      FAIL(_("network node %d is never used"), i);
  return TRUE;
}

#undef FAIL

AenetNetwork *
aenet_network_new(const char *json, gsize length, GError **error)
{
  AenetJson *doc = aenet_json_parse(json, length, error);
  if (doc == NULL) {
    g_prefix_error(error, _("network description: "));
    return NULL;
  }
  guint n = aenet_json_get_type(doc) == AENET_JSON_ARRAY ? aenet_json_get_length(doc) : 0;
  if (n == 0 || n > MAX_NODES) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                _("network description: expected a list of 1 to %d nodes"), MAX_NODES);
    aenet_json_free(doc);
    return NULL;
  }
  AenetNetwork *net = g_new0(AenetNetwork, 1);
  g_mutex_init(&net->wino_lock);
  net->n_nodes = n;
  net->nodes = g_new0(Node, n);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < n; i++)
    ok = parse_node(net, aenet_json_array_get(doc, i), i, error);
  aenet_json_free(doc);
  if (!ok || !plan_network(net, error)) {
    aenet_network_free(net);
    return NULL;
  }
  net->params = g_try_new0(float, MAX(net->n_params, 1));
  if (net->params == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("the network is too large (%zu parameters)"), net->n_params);
    aenet_network_free(net);
    return NULL;
  }
  return net;
}

void
aenet_network_free(AenetNetwork *net)
{
  if (net == NULL)
    return;
  g_mutex_clear(&net->wino_lock);
  g_free(net->wino);
  g_free(net->wino_source);
  if (net->param_info != NULL) {
    for (guint i = 0; i < net->param_info->len; i++)
      g_free((char *)g_array_index(net->param_info, AenetParamInfo, i).name);
    g_array_free(net->param_info, TRUE);
  }
  g_free(net->params);
  g_free(net->nodes);
  g_free(net);
}

char *
aenet_network_to_json(const AenetNetwork *net)
{
  GString *s = g_string_new("[");
  for (int i = 0; i < net->n_nodes; i++) {
    const Node *n = &net->nodes[i];
    g_string_append_printf(s, "%s\n  {\"op\": \"%s\"", i ? "," : "", op_names[n->op]);
    if (n->n_in > 0) {
      g_string_append(s, ", \"in\": [");
      for (int j = 0; j < n->n_in; j++)
        g_string_append_printf(s, "%s%d", j ? ", " : "", n->in[j]);
      g_string_append(s, "]");
    }
    switch (n->op) {
    case OP_INPUT:
      g_string_append_printf(s, ", \"channels\": %d", n->channels);
      break;
    case OP_CONV:
      g_string_append_printf(s, ", \"out\": %d, \"k\": %d, \"stride\": %d, \"bias\": %s",
                             n->channels, n->k, n->stride, n->has_bias ? "true" : "false");
      break;
    case OP_DWCONV:
      g_string_append_printf(s, ", \"k\": %d, \"bias\": %s", n->k, n->has_bias ? "true" : "false");
      break;
    case OP_LEAKY_RELU: {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf(s, ", \"slope\": %s", g_ascii_dtostr(buf, sizeof buf, n->slope));
      break;
    }
    case OP_SHUFFLE:
    case OP_UNSHUFFLE:
    case OP_BICUBIC:
      g_string_append_printf(s, ", \"factor\": %d", n->factor);
      break;
    default:
      break;
    }
    g_string_append(s, "}");
  }
  g_string_append(s, "\n]");
  return g_string_free(s, FALSE);
}

int
aenet_network_get_in_channels(const AenetNetwork *net)
{
  return net->in_channels;
}

int
aenet_network_get_out_channels(const AenetNetwork *net)
{
  return net->nodes[net->n_nodes - 1].channels;
}

gboolean
aenet_network_takes_noise_level(const AenetNetwork *net)
{
  return net->takes_noise_level;
}

int
aenet_network_get_scale(const AenetNetwork *net)
{
  return net->nodes[net->n_nodes - 1].num;
}

int
aenet_network_get_alignment(const AenetNetwork *net)
{
  return net->alignment;
}

int
aenet_network_get_reach(const AenetNetwork *net)
{
  return net->reach;
}

double
aenet_network_get_macs_per_pixel(const AenetNetwork *net)
{
  return net->macs_per_pixel;
}

int
aenet_network_get_tile_margin(const AenetNetwork *net)
{
  return net->nodes[net->input].need;
}

int
aenet_network_get_node_margin(const AenetNetwork *net, int node)
{
  g_return_val_if_fail(node >= 0 && node < net->n_nodes, 0);
  return net->nodes[node].need;
}

gsize
aenet_network_get_n_params(const AenetNetwork *net)
{
  return net->n_params;
}

float *
aenet_network_get_params(AenetNetwork *net)
{
  return net->params;
}

guint
aenet_network_get_n_param_tensors(const AenetNetwork *net)
{
  return net->param_info->len;
}

const AenetParamInfo *
aenet_network_get_param_info(const AenetNetwork *net, guint index)
{
  g_return_val_if_fail(index < net->param_info->len, NULL);
  return &g_array_index(net->param_info, AenetParamInfo, index);
}

/* Whether node i is read, and only by ReLUs (plain, leaky or parametric). */
static gboolean
read_by_rectifiers(const AenetNetwork *net, int i)
{
  gboolean read = FALSE;
  for (int j = i + 1; j <= net->nodes[i].last_use; j++) {
    const Node *r = &net->nodes[j];
    for (int k = 0; k < r->n_in; k++) {
      if (r->in[k] != i)
        continue;
      if (r->op != OP_RELU && r->op != OP_LEAKY_RELU && r->op != OP_PRELU)
        return FALSE;
      read = TRUE;
    }
  }
  return read;
}

void
aenet_network_init_params(AenetNetwork *net, guint64 seed)
{
  AenetRng rng;
  aenet_rng_init(&rng, seed);
  int last_conv = -1;
  for (int i = 0; i < net->n_nodes; i++)
    if (net->nodes[i].op == OP_CONV)
      last_conv = i;
  for (int i = 0; i < net->n_nodes; i++) {
    const Node *n = &net->nodes[i];
    float *w = net->params + n->weight;
    int c = n->channels;
    switch (n->op) {
    case OP_CONV:
    case OP_DWCONV: {
      /* A depthwise filter sees k·k inputs of one channel. */
      int fan_in = (n->op == OP_CONV ? net->nodes[n->in[0]].channels : 1) * n->k * n->k;
      gsize count = (gsize)c * fan_in;
      /* Weights that keep the variance of what flows through: 2 / fan_in
       * where a ReLU halves it (He et al.), 1 / fan_in where nothing does
       * (with 2, each of the six convolutions on NAFNet's path from
       * entry to exit would double it). The last layer starts small so
       * that a residual network begins close to the identity (or to
       * bicubic). */
      double gain = read_by_rectifiers(net, i) ? 2.0 : 1.0;
      double std = sqrt(gain / fan_in) * (i == last_conv ? 0.1 : 1.0);
      for (gsize j = 0; j < count; j++)
        w[j] = std * aenet_rng_normal(&rng);
      if (n->has_bias)
        memset(net->params + n->bias, 0, c * sizeof(float));
      break;
    }
    case OP_PRELU:
      for (int j = 0; j < c; j++)
        w[j] = 0.25f;
      break;
    case OP_LAYER_NORM:
      for (int j = 0; j < c; j++)
        w[j] = 1.0f;
      memset(net->params + n->bias, 0, c * sizeof(float));
      break;
    case OP_SCALE:
      /* Zero, as NAFNet's beta and gamma: a residual block x + scale · f(x)
       * starts as the identity, so a deep stack of them trains from the
       * start like a shallow network and each block's branch grows in
       * only as far as it helps. */
      memset(w, 0, c * sizeof(float));
      break;
    default:
      break;
    }
  }
}

/* ---- workspaces ------------------------------------------------------- */

/* Where node i's tensor lies in a workspace of kind kind, as margins
 * around the core (the workspace's h × w at the node's resolution) in the
 * node's pixels: its output covers margin; it is computed over computed,
 * which is wider for a conv or bicubic, whose outer ring saw the edge of
 * its cropped input and is then cut off; it reads read pixels of its
 * inputs around the core, in theirs. All 0 outside tiles. */
typedef struct {
  int margin, computed, read;
} Extent;

static Extent
node_extent(const AenetNetwork *net, int i, WorkspaceKind kind)
{
  const Node *n = &net->nodes[i];
  Extent e = { 0, 0, 0 };
  if (kind != WORKSPACE_TILE)
    return e;
  e.margin = e.computed = n->need;
  if (n->n_in > 0) {
    const Node *a = &net->nodes[n->in[0]];
    e.read = read_margin(n, n->need);
    e.computed = e.read * n->num * a->den / (n->den * a->num); /* in output pixels */
  }
  return e;
}

static gsize
node_elements(const Node *n, int h, int w, int margin)
{
  int nh, nw;
  node_size(n, h, w, margin, &nh, &nw);
  return (gsize)n->channels * nh * nw;
}

typedef struct {
  gsize total;                        /* floats */
  gsize *offset;                      /* per node output, G_MAXSIZE for the input node */
  gsize *grad_offset;                 /* per node, G_MAXSIZE when none */
  gsize crop_offset, crop_size;       /* tiles: an input cut for a kernel (see crops_into_buffer) */
  gsize scratch_offset, scratch_size; /* the kernels' */
} Plan;

/* Rounds to 16 floats so every buffer starts 64-byte aligned. */
static gsize
round16(gsize n)
{
  return (n + 15) & ~(gsize)15;
}

/* Does node i need the crop buffer to cut its input to what it reads? A
 * kernel that reads a whole tensor gets a larger input cut first: in
 * place when node i is the last to read it (and it is not the caller's),
 * else into the crop buffer. So does a gate, whose input has twice the
 * channels of its output and so cannot be cut into it. (Other
 * element-wise ops, adds, muls and concats cut their inputs into their
 * output as they go.) */
static gboolean
crops_into_buffer(const AenetNetwork *net, int i, WorkspaceKind kind)
{
  const Node *n = &net->nodes[i];
  if (n->op != OP_CONV && n->op != OP_DWCONV && n->op != OP_SHUFFLE && n->op != OP_UNSHUFFLE
      && n->op != OP_BICUBIC && n->op != OP_GATE)
    return FALSE;
  const Node *a = &net->nodes[n->in[0]];
  return node_extent(net, i, kind).read < node_extent(net, n->in[0], kind).margin
         && (a->op == OP_INPUT || a->last_use != i);
}

static void
plan_scratch(const AenetNetwork *net, int h, int w, WorkspaceKind kind, Plan *p)
{
  p->scratch_size = p->crop_size = 0;
  for (int i = 0; i < net->n_nodes; i++) {
    const Node *node = &net->nodes[i];
    if (node->n_in == 0)
      continue;
    const Node *a = &net->nodes[node->in[0]];
    Extent e = node_extent(net, i, kind);
    int ih, iw; /* the input as read */
    node_size(a, h, w, e.read, &ih, &iw);
    if (crops_into_buffer(net, i, kind))
      p->crop_size = MAX(p->crop_size, (gsize)a->channels * ih * iw);
    if (node->op == OP_CONV) {
      p->scratch_size = MAX(p->scratch_size,
                            aenet_conv2d_scratch_size(a->channels, ih, iw, node->k, node->stride));
      if (node->wino != G_MAXSIZE)
        p->scratch_size = MAX(p->scratch_size,
                              aenet_winograd_scratch_size(a->channels, ih, iw, node->channels));
    } else if (node->op == OP_BICUBIC)
      p->scratch_size
          = MAX(p->scratch_size, aenet_resize_scratch_size(a->channels, ih, iw, ih * node->factor,
                                                           iw * node->factor));
  }
}

/* Can node n's output overwrite its input (one of them for add and mul)?
 * Element-wise ops can; a gate writes the first half of its input. */
static gboolean
works_in_place(const Node *n)
{
  switch (n->op) {
  case OP_RELU:
  case OP_LEAKY_RELU:
  case OP_PRELU:
  case OP_ADD:
  case OP_MUL:
  case OP_SIGMOID:
  case OP_LAYER_NORM:
  case OP_SCALE:
  case OP_GATE:
    return TRUE;
  default:
    return FALSE;
  }
}

static void
plan_workspace(const AenetNetwork *net, int h, int w, WorkspaceKind kind, Plan *p)
{
  int n = net->n_nodes;
  p->offset = g_new(gsize, n);
  p->grad_offset = g_new(gsize, n);
  p->total = 0;
  plan_scratch(net, h, w, kind, p);

  if (kind == WORKSPACE_TRAINING) {
    /* Everything is kept for the backward pass. */
    for (int i = 0; i < n; i++) {
      p->offset[i] = G_MAXSIZE;
      if (net->nodes[i].op != OP_INPUT) {
        p->offset[i] = p->total;
        p->total += round16(node_elements(&net->nodes[i], h, w, 0));
      }
    }
    for (int i = 0; i < n; i++) {
      p->grad_offset[i] = G_MAXSIZE;
      if (net->nodes[i].needs_grad) {
        p->grad_offset[i] = p->total;
        p->total += round16(node_elements(&net->nodes[i], h, w, 0));
      }
    }
  } else {
    /* Inference: buffers live from the node that writes them to their
     * last reader, and are placed in memory by lifetime (below). An
     * element-wise op works in place in an input that nobody reads after
     * it (see works_in_place), extending that buffer's life. A shuffle
     * added into an add has no buffer: the add reads the shuffle's input,
     * which so lives until the add. A buffer is as large as the largest
     * output computed in it. */
    int *buf = g_new(int, n);       /* node whose buffer a node writes, -1 = none */
    int *until = g_new(int, n);     /* per node: the last node that reads it */
    int *end = g_new(int, n);       /* per buffer (by owner): end of its life */
    gsize *size = g_new0(gsize, n); /* per buffer (by owner): floats */
    for (int i = 0; i < n; i++) {
      const Node *node = &net->nodes[i];
      until[i] = node->last_use;
      if (node->op == OP_SHUFFLE && node->into_add)
        until[node->in[0]] = i + 1;
    }
    for (int i = 0; i < n; i++) {
      const Node *node = &net->nodes[i];
      buf[i] = -1;
      if (node->op == OP_INPUT || (node->op == OP_SHUFFLE && node->into_add))
        continue;
      buf[i] = i;
      for (int j = 0; j < node->n_in; j++) {
        int in = node->in[j];
        if (works_in_place(node) && buf[in] >= 0 && until[in] == i)
          buf[i] = buf[in];
      }
      end[buf[i]] = until[i];
      size[buf[i]] = MAX(size[buf[i]],
                         round16(node_elements(node, h, w, node_extent(net, i, kind).computed)));
    }
    /* Largest buffers first, each at the lowest offset that overlaps no
     * buffer already placed whose life overlaps its own. */
    gsize *at = g_new(gsize, n);
    gboolean *placed = g_new0(gboolean, n);
    for (;;) {
      int b = -1;
      for (int i = 0; i < n; i++)
        if (buf[i] == i && !placed[i] && (b < 0 || size[i] > size[b]))
          b = i;
      if (b < 0)
        break;
      gsize offset = 0;
      gboolean moved = TRUE;
      while (moved) { /* past every conflicting buffer, until none is in the way */
        moved = FALSE;
        for (int i = 0; i < n; i++)
          if (placed[i] && i <= end[b] && b <= end[i] && offset < at[i] + size[i]
              && at[i] < offset + size[b]) {
            offset = at[i] + size[i];
            moved = TRUE;
          }
      }
      at[b] = offset;
      placed[b] = TRUE;
      p->total = MAX(p->total, offset + size[b]);
    }
    for (int i = 0; i < n; i++) {
      p->offset[i] = buf[i] < 0 ? G_MAXSIZE : at[buf[i]];
      p->grad_offset[i] = G_MAXSIZE;
    }
    g_free(placed);
    g_free(at);
    g_free(size);
    g_free(end);
    g_free(until);
    g_free(buf);
  }
  p->crop_offset = p->total;
  p->total += round16(p->crop_size);
  p->scratch_offset = p->total;
  p->total += round16(p->scratch_size);
}

static void
plan_clear(Plan *p)
{
  g_free(p->offset);
  g_free(p->grad_offset);
}

static gsize
workspace_size(const AenetNetwork *net, int h, int w, WorkspaceKind kind)
{
  Plan p;
  plan_workspace(net, h, w, kind, &p);
  gsize bytes = p.total * sizeof(float) + 2 * net->n_nodes * sizeof(float *);
  plan_clear(&p);
  return bytes;
}

gsize
aenet_workspace_size(const AenetNetwork *net, int h, int w, gboolean training)
{
  return workspace_size(net, h, w, training ? WORKSPACE_TRAINING : WORKSPACE_WHOLE);
}

gsize
aenet_workspace_tile_size(const AenetNetwork *net, int h, int w)
{
  return workspace_size(net, h, w, WORKSPACE_TILE);
}

static AenetWorkspace *
workspace_new(const AenetNetwork *net, int h, int w, WorkspaceKind kind, GError **error)
{
  int a = net->alignment;
  if (h <= 0 || w <= 0 || h % a != 0 || w % a != 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("the network needs an input whose sides are positive multiples of %d, "
                  "not %d × %d"),
                a, w, h);
    return NULL;
  }
  Plan p;
  plan_workspace(net, h, w, kind, &p);
  AenetWorkspace *ws = g_new0(AenetWorkspace, 1);
  ws->n_nodes = net->n_nodes;
  ws->h = h;
  ws->w = w;
  ws->kind = kind;
  /* Training passes keep im2col unless asked (see aenet_workspace_set_conv_kernel). */
  ws->kernel = kind == WORKSPACE_TRAINING ? AENET_CONV_IM2COL : AENET_CONV_WINOGRAD;
  ws->memory = g_aligned_alloc0(p.total, sizeof(float), 64);
  if (ws->memory == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("not enough memory for a %d × %d tile (%zu MiB)"), w, h,
                p.total * sizeof(float) >> 20);
    plan_clear(&p);
    g_free(ws);
    return NULL;
  }
  ws->outputs = g_new0(float *, net->n_nodes);
  ws->grads = g_new0(float *, net->n_nodes);
  for (int i = 0; i < net->n_nodes; i++) {
    if (p.offset[i] != G_MAXSIZE)
      ws->outputs[i] = ws->memory + p.offset[i];
    if (p.grad_offset[i] != G_MAXSIZE)
      ws->grads[i] = ws->memory + p.grad_offset[i];
  }
  ws->crop = ws->memory + p.crop_offset;
  ws->scratch = ws->memory + p.scratch_offset;
  ws->scratch_size = p.scratch_size;
  plan_clear(&p);
  return ws;
}

AenetWorkspace *
aenet_workspace_new(const AenetNetwork *net, int h, int w, gboolean training, GError **error)
{
  return workspace_new(net, h, w, training ? WORKSPACE_TRAINING : WORKSPACE_WHOLE, error);
}

AenetWorkspace *
aenet_workspace_new_tile(const AenetNetwork *net, int h, int w, GError **error)
{
  return workspace_new(net, h, w, WORKSPACE_TILE, error);
}

double
aenet_network_get_tile_macs(const AenetNetwork *net, int h, int w)
{
  double macs = 0.0;
  for (int i = 0; i < net->n_nodes; i++) {
    const Node *n = &net->nodes[i];
    int ch, cw; /* as computed, ring included */
    node_size(n, h, w, node_extent(net, i, WORKSPACE_TILE).computed, &ch, &cw);
    macs += (double)ch * cw * node_macs(net, n);
  }
  return macs;
}

void
aenet_workspace_free(AenetWorkspace *ws)
{
  if (ws == NULL)
    return;
  g_aligned_free(ws->memory);
  g_free(ws->outputs);
  g_free(ws->grads);
  g_free(ws);
}

void
aenet_workspace_set_conv_kernel(AenetWorkspace *ws, AenetConvKernel kernel)
{
  ws->kernel = kernel;
}

const char *
aenet_conv_kernel_name(AenetConvKernel kernel)
{
  return kernel == AENET_CONV_IM2COL ? "im2col" : "winograd";
}

/* ---- passes ----------------------------------------------------------- */

/* The Winograd weights for the current parameters, made or remade when
 * they changed; NULL when the network has no 3×3 stride-1 conv or memory
 * ran out (then the passes use im2col). */
static const float *
network_winograd(const AenetNetwork *cnet)
{
  AenetNetwork *net = (AenetNetwork *)cnet; /* only the cache changes, under the lock */
  if (net->n_wino == 0)
    return NULL;
  g_mutex_lock(&net->wino_lock);
  if (net->wino == NULL) {
    net->wino = g_try_new(float, net->n_wino);
    net->wino_source = g_try_new(float, MAX(net->n_params, 1));
    if (net->wino == NULL || net->wino_source == NULL) {
      g_clear_pointer(&net->wino, g_free);
      g_clear_pointer(&net->wino_source, g_free);
      g_mutex_unlock(&net->wino_lock);
      return NULL;
    }
  }
  if (!net->wino_ready
      || memcmp(net->wino_source, net->params, net->n_params * sizeof(float)) != 0) {
    for (int i = 0; i < net->n_nodes; i++) {
      const Node *n = &net->nodes[i];
      if (n->wino != G_MAXSIZE)
        aenet_winograd_weights(net->wino + n->wino, net->params + n->weight,
                               net->nodes[n->in[0]].channels, n->channels);
    }
    memcpy(net->wino_source, net->params, net->n_params * sizeof(float));
    net->wino_ready = TRUE;
  }
  g_mutex_unlock(&net->wino_lock);
  return net->wino;
}

/* Input j of node i cut to what node i reads around the core: the input's
 * own tensor when that is all of it, else a crop of it in dst (which may
 * be the input's own buffer: it is then compacted in place). */
static const float *
read_input(const AenetNetwork *net, const AenetWorkspace *ws, int i, int j, float *dst)
{
  int in = net->nodes[i].in[j];
  int margin = node_extent(net, in, ws->kind).margin;
  int border = margin - node_extent(net, i, ws->kind).read;
  if (border == 0)
    return ws->outputs[in];
  const Node *a = &net->nodes[in];
  int ah, aw;
  node_size(a, ws->h, ws->w, margin, &ah, &aw);
  aenet_crop_forward(dst, ws->outputs[in], a->channels, ah, aw, border);
  return dst;
}

/* The input of node i, whose kernel reads a whole tensor, cut to what it
 * reads (see crops_into_buffer). */
static const float *
read_kernel_input(const AenetNetwork *net, const AenetWorkspace *ws, int i)
{
  return read_input(net, ws, i, 0,
                    crops_into_buffer(net, i, ws->kind) ? ws->crop
                                                        : ws->outputs[net->nodes[i].in[0]]);
}

/* Cuts off the outer ring of a conv's or bicubic's output in place: it
 * was computed from a cropped input, and near that crop's edge it saw the
 * kernel's padding instead of the image. */
static void
cut_ring(const Node *n, const AenetWorkspace *ws, Extent e, float *out)
{
  if (e.computed == e.margin)
    return;
  int ch, cw;
  node_size(n, ws->h, ws->w, e.computed, &ch, &cw);
  aenet_crop_forward(out, out, n->channels, ch, cw, e.computed - e.margin);
}

/* An element-wise kernel of two inputs: aenet_add_forward or aenet_mul_forward. */
typedef void (*BinaryKernel)(float *out, const float *a, const float *b, size_t n);

/* out (c, h, w) = kernel (x, y cut by border on every side); y is (c, h + 2 border,
 * w + 2 border); out may be x. */
static void
binary_cropped(BinaryKernel kernel, float *out, const float *x, const float *y, int c, int h, int w,
               int border)
{
  if (border == 0) {
    kernel(out, x, y, (gsize)c * h * w);
    return;
  }
  int yh = h + 2 * border, yw = w + 2 * border;
  for (int ch = 0; ch < c; ch++)
    for (int r = 0; r < h; r++) {
      gsize o = ((gsize)ch * h + r) * w;
      kernel(out + o, x + o, y + ((gsize)ch * yh + r + border) * yw + border, w);
    }
}

void
aenet_network_forward(const AenetNetwork *net, AenetWorkspace *ws, const float *input,
                      float noise_level)
{
  const float *params = net->params;
  const gboolean training = ws->kind == WORKSPACE_TRAINING;
  const float *wino = ws->kernel == AENET_CONV_WINOGRAD ? network_winograd(net) : NULL;
  for (int i = 0; i < net->n_nodes; i++) {
    const Node *n = &net->nodes[i];
    const Node *a = n->n_in > 0 ? &net->nodes[n->in[0]] : NULL;
    const Node *prev = i > 0 ? &net->nodes[i - 1] : NULL;
    float *out = ws->outputs[i];
    const float *x = NULL;
    Extent e = node_extent(net, i, ws->kind);
    int ih = 0, iw = 0, oh, ow; /* the input as read, the output as kept */
    if (a != NULL)
      node_size(a, ws->h, ws->w, e.read, &ih, &iw);
    node_size(n, ws->h, ws->w, e.margin, &oh, &ow);
    gsize count = (gsize)n->channels * oh * ow;
    switch (n->op) {
    case OP_INPUT:
      ws->outputs[i] = (float *)input; /* read only: no node writes its inputs */
      break;
    case OP_NOISE_LEVEL:
      for (gsize j = 0; j < count; j++)
        out[j] = noise_level;
      break;
    case OP_CONV:
      x = read_kernel_input(net, ws, i);
      if (wino != NULL && n->wino != G_MAXSIZE)
        aenet_winograd_forward(out, x, wino + n->wino, n->has_bias ? params + n->bias : NULL,
                               ws->scratch, a->channels, ih, iw, n->channels,
                               n->relu_fused && !training);
      else
        aenet_conv2d_forward(out, x, params + n->weight, n->has_bias ? params + n->bias : NULL,
                             ws->scratch, a->channels, ih, iw, n->channels, n->k, n->stride);
      cut_ring(n, ws, e, out);
      break;
    case OP_RELU:
      x = read_input(net, ws, i, 0, out);
      /* Done in place by the Winograd conv before it. */
      if (wino != NULL && !training && prev->relu_fused && n->in[0] == i - 1 && out == x)
        break;
      aenet_relu_forward(out, x, count);
      break;
    case OP_LEAKY_RELU:
      aenet_leaky_relu_forward(out, read_input(net, ws, i, 0, out), n->slope, count);
      break;
    case OP_PRELU:
      aenet_prelu_forward(out, read_input(net, ws, i, 0, out), params + n->weight, n->channels,
                          (gsize)oh * ow);
      break;
    case OP_ADD:
    case OP_MUL: {
      if (!training && prev->op == OP_SHUFFLE && prev->into_add) {
        /* out is the other input's buffer (see plan_workspace), cut in
         * place to the add's size; adding a shuffled tensor is the
         * adjoint of unshuffling, summed in. */
        read_input(net, ws, i, n->in[0] == i - 1 ? 1 : 0, out);
        aenet_pixel_unshuffle_backward(out, read_kernel_input(net, ws, i - 1), prev->channels, oh,
                                       ow, prev->factor);
        break;
      }
      BinaryKernel kernel = n->op == OP_ADD ? aenet_add_forward : aenet_mul_forward;
      /* The input whose buffer out is, if any, is cut first, in place. */
      int j = n->in[0] != n->in[1] && ws->outputs[n->in[1]] == out ? 1 : 0;
      int other = n->in[1 - j];
      x = read_input(net, ws, i, j, out);
      if (n->in[0] == n->in[1])
        kernel(out, x, x, count);
      else
        binary_cropped(kernel, out, x, ws->outputs[other], n->channels, oh, ow,
                       node_extent(net, other, ws->kind).margin - e.margin);
      break;
    }
    case OP_CONCAT:
      for (int j = 0, c = 0; j < n->n_in; j++) {
        const Node *b = &net->nodes[n->in[j]];
        int margin = node_extent(net, n->in[j], ws->kind).margin, bh, bw;
        node_size(b, ws->h, ws->w, margin, &bh, &bw);
        aenet_crop_forward(out + (gsize)c * oh * ow, ws->outputs[n->in[j]], b->channels, bh, bw,
                           margin - e.margin);
        c += b->channels;
      }
      break;
    case OP_SHUFFLE:
      if (!training && n->into_add)
        break; /* done by the add */
      aenet_pixel_shuffle_forward(out, read_kernel_input(net, ws, i), n->channels, ih, iw,
                                  n->factor);
      break;
    case OP_UNSHUFFLE:
      aenet_pixel_unshuffle_forward(out, read_kernel_input(net, ws, i), a->channels, ih, iw,
                                    n->factor);
      break;
    case OP_BICUBIC:
      aenet_resize_bicubic(out, read_kernel_input(net, ws, i), ws->scratch, a->channels, ih, iw,
                           ih * n->factor, iw * n->factor);
      cut_ring(n, ws, e, out);
      break;
    case OP_DWCONV:
      aenet_depthwise_conv2d_forward(out, read_kernel_input(net, ws, i), params + n->weight,
                                     n->has_bias ? params + n->bias : NULL, n->channels, ih, iw,
                                     n->k);
      cut_ring(n, ws, e, out);
      break;
    case OP_GATE:
      aenet_simple_gate_forward(out, read_kernel_input(net, ws, i), n->channels, (gsize)oh * ow);
      break;
    case OP_LAYER_NORM:
      aenet_layer_norm_channels_forward(out, read_input(net, ws, i, 0, out), params + n->weight,
                                        params + n->bias, n->channels, (gsize)oh * ow);
      break;
    case OP_SIGMOID:
      aenet_sigmoid_forward(out, read_input(net, ws, i, 0, out), count);
      break;
    case OP_SCALE:
      aenet_channel_scale_forward(out, read_input(net, ws, i, 0, out), params + n->weight,
                                  n->channels, (gsize)oh * ow);
      break;
    }
  }
}

const float *
aenet_workspace_get_output(const AenetWorkspace *ws)
{
  return ws->outputs[ws->n_nodes - 1];
}

void
aenet_network_backward(const AenetNetwork *net, AenetWorkspace *ws, float *grads, const float *dout)
{
  g_return_if_fail(ws->kind == WORKSPACE_TRAINING);
  const float *params = net->params;
  for (int i = 0; i < net->n_nodes; i++)
    if (ws->grads[i] != NULL)
      memset(ws->grads[i], 0, node_elements(&net->nodes[i], ws->h, ws->w, 0) * sizeof(float));
  int last = net->n_nodes - 1;
  if (ws->grads[last] == NULL)
    return; /* nothing learnable reaches the output */
  memcpy(ws->grads[last], dout, node_elements(&net->nodes[last], ws->h, ws->w, 0) * sizeof(float));

  for (int i = last; i >= 0; i--) {
    const Node *n = &net->nodes[i];
    const float *g = ws->grads[i];
    if (g == NULL || n->n_in == 0)
      continue;
    const Node *a = &net->nodes[n->in[0]];
    const float *x = ws->outputs[n->in[0]];
    float *dx = ws->grads[n->in[0]]; /* NULL when the input needs no gradient */
    int ih, iw, oh, ow;
    node_size(a, ws->h, ws->w, 0, &ih, &iw);
    node_size(n, ws->h, ws->w, 0, &oh, &ow);
    gsize count = (gsize)n->channels * oh * ow;
    switch (n->op) {
    case OP_CONV:
      aenet_conv2d_backward(dx, grads + n->weight, n->has_bias ? grads + n->bias : NULL, g, x,
                            params + n->weight, ws->scratch, a->channels, ih, iw, n->channels, n->k,
                            n->stride);
      break;
    case OP_RELU:
      if (dx != NULL)
        aenet_relu_backward(dx, g, x, count);
      break;
    case OP_LEAKY_RELU:
      if (dx != NULL)
        aenet_leaky_relu_backward(dx, g, x, n->slope, count);
      break;
    case OP_PRELU:
      aenet_prelu_backward(dx, grads + n->weight, g, x, params + n->weight, n->channels,
                           (gsize)oh * ow);
      break;
    case OP_ADD:
    case OP_CONCAT:
      for (int j = 0, c = 0; j < n->n_in; j++) {
        int cj = net->nodes[n->in[j]].channels;
        gsize len = n->op == OP_ADD ? count : (gsize)cj * oh * ow;
        if (ws->grads[n->in[j]] != NULL)
          aenet_accumulate(ws->grads[n->in[j]], g + (gsize)c * oh * ow, len);
        c += n->op == OP_ADD ? 0 : cj;
      }
      break;
    case OP_SHUFFLE:
      if (dx != NULL)
        aenet_pixel_shuffle_backward(dx, g, n->channels, ih, iw, n->factor);
      break;
    case OP_UNSHUFFLE:
      if (dx != NULL)
        aenet_pixel_unshuffle_backward(dx, g, a->channels, ih, iw, n->factor);
      break;
    case OP_DWCONV:
      aenet_depthwise_conv2d_backward(dx, grads + n->weight, n->has_bias ? grads + n->bias : NULL,
                                      g, x, params + n->weight, n->channels, ih, iw, n->k);
      break;
    case OP_GATE:
      aenet_simple_gate_backward(dx, g, x, n->channels, (gsize)oh * ow);
      break;
    case OP_LAYER_NORM:
      aenet_layer_norm_channels_backward(dx, grads + n->weight, grads + n->bias, g, x,
                                         params + n->weight, n->channels, (gsize)oh * ow);
      break;
    case OP_SIGMOID: /* its backward takes its output */
      aenet_sigmoid_backward(dx, g, ws->outputs[i], count);
      break;
    case OP_MUL:
      aenet_mul_backward(dx, ws->grads[n->in[1]], g, x, ws->outputs[n->in[1]], count);
      break;
    case OP_SCALE:
      aenet_channel_scale_backward(dx, grads + n->weight, g, x, params + n->weight, n->channels,
                                   (gsize)oh * ow);
      break;
    case OP_INPUT:
    case OP_NOISE_LEVEL:
    case OP_BICUBIC: /* reads only parameter-free inputs (checked when parsed) */
      break;
    }
  }
}
