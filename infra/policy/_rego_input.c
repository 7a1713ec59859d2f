/* Hand a JSON document to regopy's input builder without a ctypes call per node.
 *
 * infra/policy/rego_input.py walks a policy input and calls rego-cpp's C input API
 * (regoInputString, regoInputObjectItem, ...) once per node through ctypes: about a
 * microsecond a call, a hundred and more calls a decision. This module makes the same
 * calls, in the same order, from C: bind() takes the functions' addresses (read from
 * regopy's own loaded library by ctypes, so nothing links against it here) and add()
 * walks the document. Exact JSON types only, as the Python walk accepts: anything else
 * is a TypeError, an integer past 64 bits an OverflowError; nesting goes through
 * Py_EnterRecursiveCall, so a deep document is a RecursionError, never a crashed stack.
 *
 * Built by infra/native_build.py with the C compiler Python was built with; the
 * SOURCE_SHA256 macro ties the built module to this exact file.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifndef SOURCE_SHA256
#define SOURCE_SHA256 "unknown"
#endif

typedef uint32_t (*with_string)(void *, const char *);
typedef uint32_t (*with_int)(void *, int64_t);
typedef uint32_t (*with_double)(void *, double);
typedef uint32_t (*with_bool)(void *, bool);
typedef uint32_t (*with_nothing)(void *);
typedef uint32_t (*with_size)(void *, uint32_t);

static struct {
    with_string string;
    with_int integer;
    with_double floating;
    with_bool boolean;
    with_nothing null;
    with_nothing item;
    with_size object;
    with_size array;
} api;

static int bound = 0;

/* Adds value to the input; the number of calls rego-cpp refused, or -1 with an exception. */
static long long add_value(void *input, PyObject *value);

static long long add_text(void *input, PyObject *text) {
    const char *utf8 = PyUnicode_AsUTF8(text); /* NUL-terminated, as ctypes' c_char_p passes it */
    if (utf8 == NULL) {
        return -1;
    }
    return api.string(input, utf8) != 0;
}

static long long add_key(void *input, PyObject *key) {
    if (PyUnicode_CheckExact(key)) {
        return add_text(input, key);
    }
    PyObject *text = PyObject_Str(key); /* as the Python walk's str(key) */
    if (text == NULL) {
        return -1;
    }
    long long failed = add_text(input, text);
    Py_DECREF(text);
    return failed;
}

static long long add_object(void *input, PyObject *object) {
    long long failed = 0;
    Py_ssize_t position = 0;
    PyObject *key, *item;
    Py_ssize_t size = PyDict_GET_SIZE(object);
    while (PyDict_Next(object, &position, &key, &item)) {
        Py_INCREF(key);
        Py_INCREF(item);
        long long k = add_key(input, key);
        long long v = k < 0 ? -1 : add_value(input, item);
        Py_DECREF(key);
        Py_DECREF(item);
        if (v < 0) {
            return -1;
        }
        failed += k + v + (api.item(input) != 0);
    }
    if ((size_t)size > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "an object of more than 2**32 - 1 members");
        return -1;
    }
    return failed + (api.object(input, (uint32_t)size) != 0);
}

static long long add_items(void *input, PyObject *sequence) {
    long long failed = 0;
    Py_ssize_t size = PySequence_Fast_GET_SIZE(sequence);
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(sequence); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(sequence, i);
        Py_INCREF(item);
        long long v = add_value(input, item);
        Py_DECREF(item);
        if (v < 0) {
            return -1;
        }
        failed += v;
    }
    if ((size_t)size > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "an array of more than 2**32 - 1 items");
        return -1;
    }
    return failed + (api.array(input, (uint32_t)size) != 0);
}

static long long add_value(void *input, PyObject *value) {
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type) {
        return add_text(input, value);
    }
    if (kind == &PyBool_Type) {
        return api.boolean(input, value == Py_True) != 0;
    }
    if (kind == &PyLong_Type) {
        long long number = PyLong_AsLongLong(value);
        if (number == -1 && PyErr_Occurred()) {
            return -1;
        }
        return api.integer(input, (int64_t)number) != 0;
    }
    if (kind == &PyFloat_Type) {
        return api.floating(input, PyFloat_AS_DOUBLE(value)) != 0;
    }
    if (value == Py_None) {
        return api.null(input) != 0;
    }
    if (kind == &PyDict_Type || kind == &PyList_Type || kind == &PyTuple_Type) {
        if (Py_EnterRecursiveCall(" while passing a policy input")) {
            return -1;
        }
        long long failed = kind == &PyDict_Type ? add_object(input, value) : add_items(input, value);
        Py_LeaveRecursiveCall();
        return failed;
    }
    const char *name = strrchr(kind->tp_name, '.'); /* Decimal, not decimal.Decimal */
    PyErr_Format(PyExc_TypeError, "cannot pass a %s to the policy: JSON types only",
                 name == NULL ? kind->tp_name : name + 1);
    return -1;
}

static PyObject *bind(PyObject *self, PyObject *args) {
    unsigned long long s, i, f, b, n, item, object, array;
    if (!PyArg_ParseTuple(args, "KKKKKKKK", &s, &i, &f, &b, &n, &item, &object, &array)) {
        return NULL;
    }
    if (!s || !i || !f || !b || !n || !item || !object || !array) {
        PyErr_SetString(PyExc_ValueError, "every input function needs an address");
        return NULL;
    }
    api.string = (with_string)(uintptr_t)s;
    api.integer = (with_int)(uintptr_t)i;
    api.floating = (with_double)(uintptr_t)f;
    api.boolean = (with_bool)(uintptr_t)b;
    api.null = (with_nothing)(uintptr_t)n;
    api.item = (with_nothing)(uintptr_t)item;
    api.object = (with_size)(uintptr_t)object;
    api.array = (with_size)(uintptr_t)array;
    bound = 1;
    Py_RETURN_NONE;
}

static PyObject *add(PyObject *self, PyObject *args) {
    PyObject *handle, *document;
    if (!PyArg_ParseTuple(args, "OO", &handle, &document)) {
        return NULL;
    }
    if (!bound) {
        PyErr_SetString(PyExc_RuntimeError, "bind() the input functions first");
        return NULL;
    }
    void *input = PyLong_AsVoidPtr(handle);
    if (input == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "the input handle is null");
        }
        return NULL;
    }
    long long failed = add_value(input, document);
    if (failed < 0) {
        return NULL;
    }
    return PyLong_FromLongLong(failed);
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_VARARGS, "Take the addresses of rego-cpp's input functions."},
    {"add", add, METH_VARARGS, "Add a JSON document to an input; returns the refused calls."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rego_input", "Policy inputs handed to regopy from C.", -1, methods,
};

PyMODINIT_FUNC PyInit__rego_input(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL || PyModule_AddStringConstant(m, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    return m;
}
