// The search page's plotly.js: the core (scatter, SVG) and the traces the page draws, nothing else.
// searches/charts.py SEARCH_PAGE_TRACES lists the same four; tests/searches/test_plotly_bundle.py checks both.
'use strict';
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),        // the importance of each decision
    require('plotly.js/lib/heatmap'),    // a one-shot search's architecture weights
    require('plotly.js/lib/parcoords'),  // decisions against the objective
]);

module.exports = Plotly;
