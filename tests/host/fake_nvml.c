/*
 * A fake libnvidia-ml.so.1: one GPU drawing a steady FAKE_NVML_POWER_MW (default 60 W),
 * exposed through NVML's own C entry points, names, argument types, units and return codes,
 * so that the real nvidia-ml-py binding (pynvml) loads it by its soname and calls it as it calls
 * the real library. Energy is the power integrated over the monotonic clock since the library
 * was loaded, in mJ, as nvmlDeviceGetTotalEnergyConsumption reports it; power is in mW.
 *
 * Built by tests/host/counters.py for the test suite's second pass ("a host with counters").
 * Functions a caller asks for that are not here make pynvml raise NVMLError_FunctionNotFound,
 * which NVML itself returns for a function an older driver lacks.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct fake_device { int index; } *nvmlDevice_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_NOT_FOUND = 6,
};

static struct fake_device the_gpu = {0};
static int initialised = 0;
static double loaded_at_s = -1.0;
static const char *UUID = "GPU-fa4e0000-0000-4000-8000-000000000001";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned int power_mw(void) {
    const char *set = getenv("FAKE_NVML_POWER_MW");
    return set ? (unsigned int)strtoul(set, NULL, 10) : 60000u;
}

static nvmlReturn_t copy_string(const char *value, char *out, unsigned int length) {
    if (out == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(value) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(out, value);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    if (loaded_at_s < 0) loaded_at_s = now_s();
    initialised = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

nvmlReturn_t nvmlShutdown(void) {
    initialised = 0;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    return copy_string("550.54.15", version, length);
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    return copy_string("12.550.54.15", version, length);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    *count = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (index != 0) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &the_gpu;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (strcmp(uuid, UUID) != 0) return NVML_ERROR_NOT_FOUND;
    *device = &the_gpu;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    (void)device;
    return copy_string("Fake GPU (tests/host/fake_nvml.c)", name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    (void)device;
    return copy_string(UUID, uuid, length);
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    if (!initialised || device != &the_gpu) return NVML_ERROR_UNINITIALIZED;
    *power = power_mw();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
    if (!initialised || device != &the_gpu) return NVML_ERROR_UNINITIALIZED;
    *energy = (unsigned long long)((now_s() - loaded_at_s) * (double)power_mw());
    return NVML_SUCCESS;
}
