#include "error.h"

G_DEFINE_QUARK(aenet - error - quark, aenet_error)
