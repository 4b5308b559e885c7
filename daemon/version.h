/* version.h - the one place the version string lives. */
#ifndef SIPUAD_VERSION_H
#define SIPUAD_VERSION_H
#define SIPUAD_VERSION "0.1.0"
#endif
