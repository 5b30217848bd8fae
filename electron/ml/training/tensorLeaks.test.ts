import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend.ts';
import { enterJob, markTensors, tensorsLeftSince } from './tensorLeaks.ts';

describe('tensor leak checks between jobs of one thread', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('a job alone: what it leaves is counted', () => {
    const leave = enterJob();
    const mark = markTensors();
    const t = tf.zeros([2]);
    assert.equal(tensorsLeftSince(mark), 1);
    t.dispose();
    assert.equal(tensorsLeftSince(mark), 0);
    leave();
  });

  test("another job's live tensors are not this job's leak", () => {
    // B runs while A does (the suspect search beside a retrain): no verdict for A either way.
    const leaveA = enterJob();
    const markA = markTensors();
    const leaveB = enterJob();
    const fromB = tf.zeros([3]);
    assert.equal(tensorsLeftSince(markA), null);
    leaveB();
    assert.equal(tensorsLeftSince(markA), null, 'B started after A: still no verdict');
    leaveA();
    fromB.dispose();

    // A starts while B is running, and B ends first: no verdict.
    const leaveB2 = enterJob();
    const leaveA2 = enterJob();
    const markA2 = markTensors();
    leaveB2();
    assert.equal(tensorsLeftSince(markA2), null);
    leaveA2();
  });

  test('leaving twice counts once', () => {
    const leave = enterJob();
    leave();
    leave();
    const mark = markTensors();
    assert.equal(mark.alone, true);
  });
});
