# membound's CMake package, installed into PREFIX/lib/cmake/membound:
#     find_package(membound 1.0 CONFIG REQUIRED [COMPONENTS hdf5 cblas cuda])
#     target_link_libraries(app PRIVATE membound::membound)   # or membound::hdf5, ::cblas, ::cuda
# membound::membound gives the include directory (#include "stat_stream.h" as when vendored), the
# threads library and libm; define each header's *_IMPLEMENTATION in one source file of yours.
include(CMakeFindDependencyMacro)
get_filename_component(_membound_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET membound::membound)
  find_dependency(Threads)
  add_library(membound::membound INTERFACE IMPORTED)
  set_target_properties(membound::membound PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_membound_prefix}/include/membound"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;m")
endif()
include("${CMAKE_CURRENT_LIST_DIR}/membound-backends.cmake")
foreach(_membound_c IN LISTS membound_FIND_COMPONENTS)
  _membound_backend(${_membound_c} membound::membound)
  if(NOT membound_${_membound_c}_FOUND AND membound_FIND_REQUIRED_${_membound_c})
    set(membound_FOUND FALSE)
    set(membound_NOT_FOUND_MESSAGE "membound: the ${_membound_c} backend's library was not found")
  endif()
endforeach()
unset(_membound_c)
unset(_membound_prefix)
