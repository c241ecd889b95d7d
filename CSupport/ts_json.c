#include "ts_json.h"
