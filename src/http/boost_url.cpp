// Boost.URL is used header-only: its compiled part is built here, in this
// one translation unit of the program (Debian ships no libboost_url).
#include <boost/url/src.hpp>
