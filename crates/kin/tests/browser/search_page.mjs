// Drives kin serve's page in headless Chromium, as a user would: create a collection, add text
// files through the file picker of the drop zone, search, read the ranked results, and keep a
// screenshot. Usage: node search_page.mjs BASE_URL MODEL FILES_DIR SCREENSHOT.png
// Prints one JSON line: {"collections": [...], "status": "...", "results": [{"name", "score"}],
// "hybrid": [{"name", "found_by"}]}.
import { chromium } from "playwright-core";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const [base, model, filesDir, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(base, { waitUntil: "load" });

  // A new collection for the model, made through the form.
  await page.waitForSelector(`#new-model option[value="${model}"]`, { state: "attached" });
  await page.fill("#new-name", "docs");
  await page.selectOption("#new-model", model);
  await page.click("#create-form button");
  await page.waitForSelector('#collection option[value="docs"]', { state: "attached" });

  // Files through the drop zone's picker (what a drop hands the same handler).
  const files = readdirSync(filesDir).sort().map((f) => join(filesDir, f));
  await page.setInputFiles("#upload-input", files);
  await page.waitForFunction((n) => document.querySelector("#upload-status").textContent.includes(`Added ${n} of ${n}`), files.length, { timeout: 60000 });

  await page.fill("#query", "a small pet that purrs on the sofa");
  await page.click("#search-btn");
  await page.waitForSelector("#results li", { timeout: 60000 });
  const results = await page.$$eval("#results li", (lis) => lis.map((li) => ({
    name: li.querySelector(".name").textContent,
    score: Number(li.querySelector(".meta span").textContent.replace("score ", "")),
    snippet: (li.querySelector(".snippet") || {}).textContent || "",
  })));
  // Hybrid search: an exact word, and which retrievers found each hit.
  await page.selectOption("#mode", "hybrid");
  await page.fill("#query", "garbage collector");
  await page.click("#search-btn");
  await page.waitForSelector("#results li .found-by", { timeout: 60000 });
  const hybrid = await page.$$eval("#results li", (lis) => lis.map((li) => ({
    name: li.querySelector(".name").textContent,
    found_by: (li.querySelector(".found-by") || {}).textContent || "",
  })));
  const status = await page.textContent("#status");
  const collections = await page.$$eval("#collection option", (os) => os.map((o) => o.value));
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ collections, status, results, hybrid, problems }));
} finally {
  await browser.close();
}
