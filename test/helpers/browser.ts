import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

/** The few DOM members the page-side functions below use (the project compiles without the DOM lib). */
interface DomRect {
  left: number;
  top: number;
  width: number;
  height: number;
}
interface DomElement {
  id: string;
  textContent: string | null;
  width: number;
  height: number;
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  getBoundingClientRect(): DomRect;
  getContext(kind: "2d"): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  } | null;
}
// Page-side only: these functions are serialised and run in the browser, where `document` exists.
declare const document: {
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  getElementById(id: string): DomElement | null;
};

/** Debian's Chromium: playwright-core drives it; it never downloads a browser of its own. */
export const CHROMIUM = "/usr/bin/chromium";

/** Headless Chromium with no network chatter of its own. Throws (the test fails) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the report test needs a real browser (as root: apt-get install -y chromium)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
    timeout: 60_000,
  });
}

export interface OpenedPage {
  page: Page;
  /** Console errors, uncaught page errors, and every request the page tried beyond its own file. */
  consoleErrors: string[];
  pageErrors: string[];
  requests: string[];
}

/** Opens a local HTML file with the network cut off (any other request is aborted and recorded). */
export async function openFile(browser: Browser, path: string): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const self = pathToFileURL(path).href;
  const opened: OpenedPage = { page, consoleErrors: [], pageErrors: [], requests: [] };
  page.on("console", (m) => {
    if (m.type() === "error") opened.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => opened.pageErrors.push(String(e)));
  await page.route(
    (url) => url.href !== self,
    async (route) => {
      opened.requests.push(route.request().url());
      await route.abort();
    },
  );
  await page.goto(self, { waitUntil: "load" });
  return opened;
}

export interface DrawnChart {
  id: string;
  title: string;
  /** The chart's own "could not be drawn" message, if any. */
  failed: boolean;
  /** Painted (non-transparent) pixels on the chart's canvas: axes, grid and series. */
  painted: number;
  /** Series colours of the chart (those with data), and how many opaque pixels of each the canvas has. */
  colors: string[];
  hits: number[];
}

/** What every `figure.chart` drew: read back from its canvas pixels. */
export function drawnCharts(page: Page): Promise<DrawnChart[]> {
  // The page-side code gets its pixels once per chart; a colour counts with a small tolerance.
  return page.evaluate(() =>
    Array.from(document.querySelectorAll("figure.chart")).map((fig) => {
      const colors = (fig.getAttribute("data-series-colors") ?? "").split(" ").filter(Boolean);
      const rgb = colors.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
      const hits = colors.map(() => 0);
      let painted = 0;
      const canvas = fig.querySelector("canvas");
      if (canvas && canvas.width > 0 && canvas.height > 0) {
        const px = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < px.length; i += 4) {
          if (px[i + 3] === 0) continue;
          painted++;
          if (px[i + 3] < 255) continue; // antialiased edges and translucent fills (ramp bands) do not count
          rgb.forEach(([r, g, b], k) => {
            if (Math.abs(px[i] - r) <= 12 && Math.abs(px[i + 1] - g) <= 12 && Math.abs(px[i + 2] - b) <= 12)
              hits[k]++;
          });
        }
      }
      return {
        id: fig.id,
        title: fig.querySelector("figcaption")?.textContent ?? "",
        failed: fig.querySelector(".failed") !== null,
        painted,
        colors,
        hits,
      };
    }),
  );
}

/** The text of each cell of each row matched by `rowSelector`. */
export function tableCells(page: Page, rowSelector: string): Promise<string[][]> {
  return page.evaluate(
    (sel) =>
      Array.from(document.querySelectorAll(sel)).map((tr) =>
        Array.from(tr.querySelectorAll("td")).map((td) => (td.textContent ?? "").trim()),
      ),
    rowSelector,
  );
}

/**
 * How much of a vertical line of a time chart's plot is painted translucent (a shaded band) at time t:
 * 0 where nothing is shaded, about 1 inside a band. The chart's x scale spans [first, last].
 */
export function translucentAt(
  page: Page,
  chartId: string,
  [first, last]: [number, number],
  t: number,
): Promise<number> {
  return page.evaluate(
    ({ chartId, first, last, t }) => {
      const fig = document.getElementById(chartId)!;
      const canvas = fig.querySelector("canvas")!;
      const plot = fig.querySelector(".u-over")!.getBoundingClientRect();
      const box = canvas.getBoundingClientRect();
      const scale = canvas.width / box.width;
      const left = Math.round((plot.left - box.left + ((t - first) / (last - first)) * plot.width) * scale);
      const top = Math.round((plot.top - box.top) * scale);
      const px = canvas.getContext("2d")!.getImageData(left, top, 1, Math.round(plot.height * scale)).data;
      let translucent = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0 && px[i] < 255) translucent++;
      return translucent / (px.length / 4);
    },
    { chartId, first, last, t },
  );
}
