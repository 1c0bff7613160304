// Included at the top of MicroPython's extmod/modnetwork.c
// (MICROPY_PY_NETWORK_INCLUDEFILE).
extern const mp_obj_type_t network_lan_type;
