/** Tables on a terminal: the widest cells are cut with an ellipsis so every line fits its width. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitToWidth } from '../../src/cli/output.ts';

describe('fitToWidth', () => {
  it('cuts the widest column to make the table exactly as wide as the terminal', () => {
    const [row] = fitToWidth(['id', 'error'], [['abc', 'x'.repeat(200)]], 80);
    assert.deepEqual(row, ['abc', `${'x'.repeat(69)}…`]);
    // Cells, plus a border and a space either side of each: 3 + 70 + 3 * 2 + 1 = 80.
    assert.equal(row![0]!.length + row![1]!.length + 3 * 2 + 1, 80);
  });

  it('cuts the last column (the free text) before an id', () => {
    const id = '01a23467-cde2-74c0-beff-9a7b3e55d2ba';
    const [row] = fitToWidth(['id', 'job', 'error'], [[id, 'ChargeCard', 'Error: card declined by the issuer']], 70);
    assert.deepEqual(row, [id, 'ChargeCard', 'Error: card d…']);
  });

  it('cuts an id only once every other column is as narrow as it goes', () => {
    const id = '01a23467-cde2-74c0-beff-9a7b3e55d2ba';
    // 36 + 16 + 40 characters of cells and 10 of borders: 102.
    const [wide] = fitToWidth(['id', 'job', 'error'], [[id, 'SendWelcomeEmail', 'x'.repeat(40)]], 75);
    assert.deepEqual(wide, [id, 'SendWelcomeEmail', `${'x'.repeat(12)}…`]);
    const [middle] = fitToWidth(['id', 'job', 'error'], [[id, 'SendWelcomeEmail', 'x'.repeat(40)]], 66);
    assert.deepEqual(middle, [id, 'SendWelco…', `${'x'.repeat(9)}…`]);
    const [narrow] = fitToWidth(['id', 'job', 'error'], [[id, 'SendWelcomeEmail', 'x'.repeat(40)]], 60);
    assert.equal(narrow![0], `${id.slice(0, 29)}…`);
  });

  it('leaves a table that fits as it is, and cuts no column below ten characters', () => {
    assert.deepEqual(fitToWidth(['id', 'error'], [['abc', 'short']], 80), [['abc', 'short']]);
    const [row] = fitToWidth(['id', 'error'], [['a'.repeat(30), 'b'.repeat(30)]], 20);
    assert.deepEqual(row!.map((cell) => cell.length), [10, 10]);
  });
});
