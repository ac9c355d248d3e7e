/* exec_run.c - the launch of `zplan exec` and its supervision: the
 * engine's command line, the execution's row in the store (added before
 * the launch, finished after it, or the record kept in a file when the
 * store cannot be written), SIGINT, SIGTERM and SIGHUP ending the ranks,
 * and what is said before and after. */
#include "config.h"
#include "cli.h"
#include "jsonget.h"
#include "launch.h"
#include "render.h"
#include "result.h"
#include "store.h"
#include "exec.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t zp_exec_interrupted;
static void on_signal(int sig) { zp_exec_interrupted = sig; }

/* The engine's code for a storage type: 0 fp32, 1 bf16, 2 fp16. */
static int engine_dtype(zp_dtype d)
{
    return d == ZP_DT_BF16 ? 1 : d == ZP_DT_FP16 ? 2 : 0;
}

int zp_exec_engine_args(char a[][64], char **args, int n, const zp_model *m, const zp_train *tr, const zp_layout *l,
                        int64_t steps, uint64_t cap, int cuda)
{
    int k = 0;
    snprintf(a[k], 64, "layers=%lld", (long long)m->layers), args[n++] = a[k++];
    snprintf(a[k], 64, "hidden=%lld", (long long)m->hidden), args[n++] = a[k++];
    snprintf(a[k], 64, "heads=%lld", (long long)m->heads), args[n++] = a[k++];
    snprintf(a[k], 64, "vocab=%lld", (long long)m->vocab), args[n++] = a[k++];
    snprintf(a[k], 64, "seq=%lld", (long long)tr->seq), args[n++] = a[k++];
    /* the architecture (the engine's defaults are GPT-2's) */
    snprintf(a[k], 64, "kv_heads=%lld", (long long)m->kv_heads), args[n++] = a[k++];
    snprintf(a[k], 64, "ffn=%lld", (long long)m->ffn), args[n++] = a[k++];
    snprintf(a[k], 64, "norm=%s", m->norm == ZP_NORM_RMSNORM ? "rmsnorm" : "layernorm"), args[n++] = a[k++];
    snprintf(a[k], 64, "mlp=%s", m->mlp == ZP_MLP_SWIGLU ? "swiglu" : "gelu"), args[n++] = a[k++];
    snprintf(a[k], 64, "pos=%s", m->pos == ZP_POS_ROTARY ? "rotary" : "learned"), args[n++] = a[k++];
    snprintf(a[k], 64, "tied=%d", m->tied ? 1 : 0), args[n++] = a[k++];
    snprintf(a[k], 64, "bias=%d", m->bias ? 1 : 0), args[n++] = a[k++];
    if (!m->bias && m->qkv_bias)   /* Qwen2's bias on the QKV product alone */
        snprintf(a[k], 64, "qkv_bias=1"), args[n++] = a[k++];
    if (m->qk_norm)   /* Qwen3's RMSNorm on each Q and K head */
        snprintf(a[k], 64, "qk_norm=1"), args[n++] = a[k++];
    snprintf(a[k], 64, "micro_batch=%lld", (long long)l->micro_batch), args[n++] = a[k++];
    snprintf(a[k], 64, "accum=%lld", (long long)l->grad_accum), args[n++] = a[k++];
    snprintf(a[k], 64, "steps=%lld", (long long)steps), args[n++] = a[k++];
    snprintf(a[k], 64, "zero=%d", l->zero), args[n++] = a[k++];
    snprintf(a[k], 64, "ckpt=%d", (int)l->ckpt), args[n++] = a[k++];
    if (l->ckpt == ZP_CKPT_FULL && tr->ckpt_block > 0)
        snprintf(a[k], 64, "ckpt_layers=%lld", (long long)tr->ckpt_block), args[n++] = a[k++];
    else if (l->ckpt == ZP_CKPT_FULL && tr->ckpt_every > 1)
        snprintf(a[k], 64, "ckpt_every=%lld", (long long)tr->ckpt_every), args[n++] = a[k++];
    snprintf(a[k], 64, "offload=%d", (int)l->offload), args[n++] = a[k++];
    if (l->act_offload)
        snprintf(a[k], 64, "act_offload=1"), args[n++] = a[k++];
    snprintf(a[k], 64, "sgd=%d", tr->optim == ZP_OPT_SGD), args[n++] = a[k++];
    snprintf(a[k], 64, "device_cap=%llu", (unsigned long long)cap), args[n++] = a[k++];
    snprintf(a[k], 64, "dtype=%d", engine_dtype(tr->dtype)), args[n++] = a[k++];
    snprintf(a[k], 64, "grad_dtype=%d", engine_dtype(tr->grad_dtype)), args[n++] = a[k++];
    if (tr->dtype == ZP_DT_FP16 || tr->grad_dtype == ZP_DT_FP16) {
        /* dynamic loss scaling as DeepSpeed's fp16 defaults: from 2^16, halved
         * on overflow (the step skipped), doubled after 1000 good steps */
        snprintf(a[k], 64, "loss_scale=65536"), args[n++] = a[k++];
        snprintf(a[k], 64, "scale_window=1000"), args[n++] = a[k++];
    }
    if (l->tp > 1)
        snprintf(a[k], 64, "tp=%lld", (long long)l->tp), args[n++] = a[k++];
    if (l->tp > 1 && l->sp)
        snprintf(a[k], 64, "sp=1"), args[n++] = a[k++];
    if (l->pp > 1)
        snprintf(a[k], 64, "pp=%lld", (long long)l->pp), args[n++] = a[k++];
    if (l->pp > 1 && l->vp > 1)
        snprintf(a[k], 64, "vp=%lld", (long long)l->vp), args[n++] = a[k++];
    if (zp_cp(l) > 1)
        snprintf(a[k], 64, "cp=%lld", (long long)zp_cp(l)), args[n++] = a[k++];
    if (tr->flash)   /* flash attention: each row's log-sum-exp kept, not its probabilities */
        snprintf(a[k], 64, "flash=1"), args[n++] = a[k++];
    /* on a GPU, a 16-bit plan's products (the linear layers' and the
     * attention's, flash attention's at head sizes a multiple of 16 up to
     * 128) run on the tensor cores
     * (16-bit operands, fp32 sums), as PyTorch's autocast runs them and as
     * zplan calibrate --backend cuda measured them; the CPU stays exact */
    if (tr->tensor_math && tr->dtype != ZP_DT_FP32)   /* (exec.c sets it where the backend is cuda) */
        snprintf(a[k], 64, "gemm=%s", tr->dtype == ZP_DT_BF16 ? "bf16" : "fp16"), args[n++] = a[k++];
    snprintf(a[k], 64, "progress=1"), args[n++] = a[k++];
    if (cuda)
        snprintf(a[k], 64, "backend=cuda"), args[n++] = a[k++];
    args[n] = NULL;
    return n;
}

int zp_exec_run(zp_cli *cli, zp_exec_launch *x)
{
    zp_status st;
    zp_store *s;
    zp_exec_view *xv = &x->view;
    /* SIGINT, SIGTERM and SIGHUP (a closed terminal) end the ranks and mark
     * the execution interrupted */
    struct sigaction old_sig[3];
    zp_stop_signals_catch(on_signal, old_sig);   /* (one ignored at start stays ignored) */
    if ((st = zp_store_open(x->dbpath, &s, &cli->err))) {
        zp_stop_signals_restore(old_sig);
        return zp_fail(cli, st);
    }
    int64_t exec_id;
    if ((st = zp_store_add_exec(s, xv->run_id, xv->plan, xv->backend, xv->ranks, xv->steps,
                                xv->scale ? xv->scale : "none", &exec_id, &cli->err))) {
        zp_store_close(s);
        zp_stop_signals_restore(old_sig);
        return zp_fail(cli, st);
    }
    xv->exec_id = exec_id;
    /* what makes its times not what they would be elsewhere: ranks taking
     * turns on fewer cores, a profile measured at another rank count (its
     * prediction was then off by -64 % and -94 %) */
    long long np = (long long)xv->ranks;
    if (!xv->cuda && !x->hostfile && x->cores > 0 && np > x->cores)
        fprintf(stderr, "%s: warning: %lld ranks on %ld cores (--oversubscribe): they take turns, so the measured "
                "step time is not that of %lld separate processors\n", cli->prog, np, x->cores, np);
    if (xv->profile && !xv->cuda && x->profile_ranks != np)
        fprintf(stderr, "%s: warning: the profile %s was measured on %lld ranks, this run has %lld: its predicted "
                "step time assumes %lld (zplan calibrate --np %lld --name %s-%lld, then --profile %s-%lld)\n",
                cli->prog, xv->profile, (long long)x->profile_ranks, np, (long long)x->profile_ranks, np, xv->profile,
                np, xv->profile, np);
    /* what to expect before it starts: the steps, the micro-batches each
     * rank runs, and with a profile the time */
    char expect[96] = "";
    if (xv->profile)
        snprintf(expect, sizeof expect, "; about %.3g s predicted", xv->cost->step_s * (double)xv->steps);
    fprintf(stderr, "%s: execution %lld: %s %s %lld %s ... (%lld step%s of %lld micro-batch%s of %lld sequence%s "
            "per rank%s)\n", cli->prog, (long long)exec_id, x->lname, x->args[1], np, x->eng, (long long)xv->steps,
            xv->steps == 1 ? "" : "s", (long long)xv->lay->grad_accum, xv->lay->grad_accum == 1 ? "" : "es",
            (long long)xv->lay->micro_batch, xv->lay->micro_batch == 1 ? "" : "s", expect);
    char *out = NULL;
    /* interrupted while the database was waited for: nothing is launched */
    int rc = zp_exec_interrupted ? 130 : zp_run_capture(x->args, x->timeout_s, cli->prog, &out, &zp_exec_interrupted);
    /* the record: prediction beside measurement (shell/result.c) */
    double granule, gpu_mem;
    cJSON *rec = zp_exec_record(*xv, rc, out, &granule, &gpu_mem);
    free(out);
    char status[16];   /* the record's, kept past it */
    snprintf(status, sizeof status, "%s", zp_jstr(rec, "status"));
    char *txt = cJSON_PrintUnformatted(rec);
    /* the end of the execution, recorded (waiting on a locked database
     * with progress); when the store still cannot be written the record
     * goes to a file that zplan import adds later */
    zp_exec_info xi = {xv->run_id, xv->plan, xv->backend, xv->ranks, xv->steps, xv->scale ? xv->scale : "none"};
    char saved[4200] = "";
    st = zp_store_finish_exec_or_save(x->dbpath, exec_id, &xi, status, txt ? txt : "{}", saved, sizeof saved,
                                      &cli->err);
    zp_stop_signals_restore(old_sig);   /* the record is written (or saved) */
    free(txt);
    /* a GPU's runtime memory, kept as the stored profile <gpu>-cuda: the
     * planner uses it with --gpu <gpu>-cuda, and the next execution on this
     * GPU predicts with it */
    if (!st && xv->cuda) {
        zp_err pe = {0};
        char *pt = zp_exec_measured_profile(rec, x->ovh_gpu, x->gpu_slug, xv->gpu, granule, gpu_mem,
                                            xv->overhead_source, &pe);
        if (pt && zp_store_put_profile(s, x->gpu_slug, pt, &pe) == ZP_OK)
            cJSON_AddStringToObject(rec, "profile_kept", x->gpu_slug);
        else if (pt || pe.msg[0])
            fprintf(stderr, "%s: warning: the measured profile %s was not kept: %s\n", cli->prog, x->gpu_slug, pe.msg);
        free(pt);
    }
    zp_store_close(s);
    if (st && !saved[0]) {
        cJSON_Delete(rec);
        return zp_fail(cli, st);
    }
    if (x->json) {
        char *t = cJSON_Print(rec);
        puts(t ? t : "{}");
        free(t);
    } else
        zp_render_exec(stdout, rec);
    cJSON_Delete(rec);
    if (saved[0])   /* measured, kept in a file: say where and how to add it */
        return zp_fail(cli, st);
    if (rc == 127 || rc < 0)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "the launch failed (%s exit %d); execution %lld is "
                                       "recorded as failed", x->lname, rc, (long long)exec_id));
    if (strcmp(status, "ok") != 0) {
        fprintf(stderr, "%s: execution %lld: %s\n", cli->prog, (long long)exec_id, status);
        return 1;
    }
    return 0;
}
