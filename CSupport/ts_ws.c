#include "ts_ws.h"
