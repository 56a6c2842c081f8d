"""Tests of datamap.retention; a package so its module names stay apart from other test folders."""
