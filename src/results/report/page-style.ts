/** The report page's stylesheet (its script, which draws the charts, is page.ts). */
export const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; background: #fff; }
main { max-width: 1500px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta, .note { color: #666; font-size: 12.5px; margin: 4px 0; }
.scroll { overflow-x: auto; }
.scroll table { border-collapse: collapse; font-size: 13px; white-space: nowrap; }
.scroll th, .scroll td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
.scroll th { background: #f6f6f6; }
.scroll .num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll td.name { white-space: normal; overflow-wrap: anywhere; min-width: 8em; max-width: 24em; }
.scroll .file { color: #777; font-size: 11.5px; white-space: nowrap; }
.scroll td.words { white-space: normal; min-width: 6em; }
.scroll tr.group td { border-top: 2px solid #ccc; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(560px, 100%), 1fr)); gap: 12px 24px; }
.grid.small { grid-template-columns: repeat(auto-fill, minmax(min(420px, 100%), 1fr)); }
figure.chart { margin: 0; min-width: 0; }
figcaption { font-weight: 600; margin: 6px 0 2px; overflow-wrap: anywhere; }
.plot { width: 100%; min-height: 300px; }
.small .plot { min-height: 220px; }
.failed { color: #b00; }
ul.notes { color: #8a5a00; }
.plot .uplot { font-family: inherit; width: auto; max-width: 100%; }
.plot .u-legend { font-size: 12.5px; max-width: 100%; }
.plot .u-legend th { white-space: normal; overflow-wrap: anywhere; text-align: left; font-weight: 500; }
#server-side td.cell { vertical-align: top; }
#server-side .value { font-variant-numeric: tabular-nums; font-weight: 600; }
#server-side .kind, #server-side .range { color: #777; font-size: 11.5px; font-weight: 400; }
#top-statements code { font-size: 12px; white-space: pre-wrap; }
`;
