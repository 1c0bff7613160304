// Included into the globals table of MicroPython's network module
// (MICROPY_PY_NETWORK_MODULE_GLOBALS_INCLUDEFILE): network.LAN. The type
// is declared in network_port.h (MICROPY_PY_NETWORK_INCLUDEFILE).
{ MP_ROM_QSTR(MP_QSTR_LAN), MP_ROM_PTR(&network_lan_type) },
